import { emptyArray, isRecord, missing, wrongType, wrongValue } from './field-errors.js';

/**
 * `messages` as both chat APIs require it: a non-empty array of objects whose `role` is one of
 * `roles`. The first bad message is named by its index (`messages[1].role`).
 */
export function checkMessageList(messages: unknown, roles: readonly string[]): void {
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw wrongType('messages', 'must be an array of messages');
  if (messages.length === 0) throw emptyArray('messages', 'must contain at least one message');
  for (let index = 0; index < messages.length; index += 1) {
    const message: unknown = messages[index];
    const param = `messages[${index}]`;
    if (!isRecord(message)) throw wrongType(param, 'must be a message object');
    if (message.role === undefined) throw missing(`${param}.role`);
    if (typeof message.role !== 'string' || !roles.includes(message.role))
      throw wrongValue(`${param}.role`, `must be one of ${roles.map((role) => `'${role}'`).join(', ')}`);
  }
}
