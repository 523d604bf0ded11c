import { DockerfileParser, type Instruction, JSONInstruction, ModifiableInstruction } from 'dockerfile-ast';
import { readRepoFile } from './repo.js';

/** One instruction of a stage, reduced to what the tests read. */
export interface Step {
  keyword: string;
  /** The arguments as written, flags left out (`--from=build`, `--mount=...`). */
  args: string;
  flags: Record<string, string>;
  /** Exec form (`["node", "x.js"]`) parsed; undefined for shell form. */
  exec?: string[];
}

export interface Stage {
  name: string;
  /** The FROM image with build arguments resolved, e.g. `node:26-slim`. */
  image: string;
  steps: Step[];
}

export interface ParsedDockerfile {
  /** Build arguments declared before the first FROM, with their defaults. */
  args: Record<string, string>;
  stages: Stage[];
}

function execForm(instruction: Instruction): string[] | undefined {
  if (!(instruction instanceof JSONInstruction)) return undefined;
  const strings = instruction.getJSONStrings();
  if (strings.length === 0) return undefined;
  return strings.map((item) => item.getJSONValue());
}

function toStep(instruction: Instruction): Step {
  const keyword = instruction.getKeyword();
  const flagList = instruction instanceof ModifiableInstruction ? instruction.getFlags() : [];
  const flags = Object.fromEntries(flagList.map((flag) => [flag.getName(), flag.getValue() ?? '']));
  const args = instruction.getArgumentsContent() ?? '';
  const step: Step = { keyword, args, flags };
  // HEALTHCHECK's command follows its `CMD` word.
  const exec =
    keyword === 'HEALTHCHECK' ? healthcheckExec(args) : keyword === 'CMD' ? execForm(instruction) : undefined;
  if (exec !== undefined) step.exec = exec;
  return step;
}

function healthcheckExec(args: string): string[] | undefined {
  const match = /^CMD\s+(\[.*\])\s*$/s.exec(args.replace(/\\\n/g, ' '));
  return match?.[1] === undefined ? undefined : (JSON.parse(match[1]) as string[]);
}

export function parseDockerfile(text: string = readRepoFile('Dockerfile')): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const args: Record<string, string> = {};
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property !== null) args[property.getName()] = property.getValue() ?? '';
  }
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', , name = String(stages.length)] = instruction
        .getArguments()
        .map((a) => a.getValue());
      const resolved = image.replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_m, key: string) => args[key] ?? '',
      );
      stages.push({ name, image: resolved, steps: [] });
    } else if (stages.length > 0) {
      stages.at(-1)?.steps.push(toStep(instruction));
    }
  }
  return { args, stages };
}

export function stage(dockerfile: ParsedDockerfile, name: string): Stage {
  const found = dockerfile.stages.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`the Dockerfile has no stage named ${name}`);
  return found;
}
