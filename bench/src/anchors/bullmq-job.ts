/** What the BullMQ anchor's gateway queues: the client's body and the channel to answer on. */
export interface AnchorJob {
  body: Record<string, unknown>;
  replyTo: string;
}

/** The anchor's answer message: `<jobId>\n<status>\n<body>`, published on the job's `replyTo`. */
export function encodeAnswer(jobId: string, status: number, body: string): string {
  return `${jobId}\n${status}\n${body}`;
}

export function decodeAnswer(message: string): { jobId: string; status: number; body: string } {
  const idEnd = message.indexOf('\n');
  const statusEnd = message.indexOf('\n', idEnd + 1);
  return {
    jobId: message.slice(0, idEnd),
    status: Number(message.slice(idEnd + 1, statusEnd)),
    body: message.slice(statusEnd + 1),
  };
}
