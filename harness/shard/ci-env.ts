// Which shard this process is: from --shard K/N, else from the variables the CI systems
// users already run set for parallel jobs. Pure: reads the environment object it is given.
// A new CI system is a row of SHARD_VARIABLES.
import { HarnessError } from '../errors.ts';

/** This process's part of a sharded run: shard `index` (1-based) of `total`. */
export interface ShardSpec {
  index: number;
  total: number;
  /** Where index and total came from, as recorded in results.json (e.g. '--shard', 'CI_NODE_INDEX/CI_NODE_TOTAL'). */
  source: string;
}

interface ShardVariables {
  system: string;
  index: string;
  /** The variable holding the shard count; absent where the system has none (Kubernetes). */
  total?: string;
  /** Whether the system counts shards from 0. */
  zeroBased: boolean;
}

/** The shard count for systems that set only an index (Kubernetes Indexed Jobs): the Job's `completions`. */
export const SHARD_TOTAL_VARIABLE = 'HARNESS_SHARD_TOTAL';

/** In order of precedence, after --shard. */
export const SHARD_VARIABLES: readonly ShardVariables[] = [
  { system: 'harness', index: 'HARNESS_SHARD_INDEX', total: SHARD_TOTAL_VARIABLE, zeroBased: false },
  { system: 'GitLab CI (parallel:)', index: 'CI_NODE_INDEX', total: 'CI_NODE_TOTAL', zeroBased: false },
  { system: 'Buildkite (parallelism:)', index: 'BUILDKITE_PARALLEL_JOB', total: 'BUILDKITE_PARALLEL_JOB_COUNT', zeroBased: true },
  { system: 'Kubernetes Indexed Job', index: 'JOB_COMPLETION_INDEX', zeroBased: true },
];

/** One line per system, for --help. */
export function shardVariablesHelp(): string {
  return SHARD_VARIABLES.map((v) =>
    `  ${v.system}: ${v.index}${v.total ? `/${v.total}` : ` with N from --shard-total or ${SHARD_TOTAL_VARIABLE}`} (${v.zeroBased ? '0' : '1'}-based)`,
  ).join('\n');
}

function wholeNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) throw new HarnessError(`${what}: '${text}' is not a whole number`);
  return Number(text.trim());
}

function checked(index: number, total: number, source: string, what: string): ShardSpec {
  if (total < 1) throw new HarnessError(`${what}: the shard count must be at least 1, got ${total}`);
  if (index < 1 || index > total) throw new HarnessError(`${what}: shard ${index} is out of range 1..${total}`);
  return { index, total, source };
}

/** Parses the --shard flag's `K/N` (1-based). */
export function parseShardFlag(value: string): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!match) throw new HarnessError(`--shard: '${value}' is not K/N (e.g. --shard 2/4: the second of four shards)`);
  return checked(Number(match[1]), Number(match[2]), '--shard', '--shard');
}

export interface ShardChoice {
  /** --shard K/N. */
  flag?: string;
  /** --shard-total N: the count, where the environment gives only an index. */
  total?: number;
  /** --no-shard: ignore the CI variables (e.g. a GitLab parallel:matrix job that sets CI_NODE_INDEX for another reason). */
  disabled?: boolean;
}

/**
 * The shard to run, or undefined for the whole plan. The flag wins over every variable; among
 * the variables, the first system in SHARD_VARIABLES whose index variable is set.
 */
export function resolveShard(choice: ShardChoice, env: NodeJS.ProcessEnv): ShardSpec | undefined {
  if (choice.disabled) return undefined;
  if (choice.flag !== undefined) return parseShardFlag(choice.flag);
  for (const vars of SHARD_VARIABLES) {
    const rawIndex = env[vars.index];
    if (rawIndex === undefined || rawIndex === '') continue;
    const index = wholeNumber(rawIndex, vars.index) + (vars.zeroBased ? 1 : 0);
    const totalVar = choice.total !== undefined ? '--shard-total' : [vars.total, SHARD_TOTAL_VARIABLE].find((name) => name && env[name]);
    if (!totalVar) {
      throw new HarnessError(`${vars.index}=${rawIndex} is set but not the shard count: pass --shard-total N or set ${vars.total ?? SHARD_TOTAL_VARIABLE}`);
    }
    const total = choice.total ?? wholeNumber(env[totalVar]!, totalVar);
    const source = `${vars.index}/${totalVar}`;
    return checked(index, total, source, `${vars.index}=${rawIndex} (${vars.zeroBased ? '0' : '1'}-based) with ${totalVar}=${total}`);
  }
  if (choice.total !== undefined) throw new HarnessError(`--shard-total ${choice.total}: no shard index is set; pass --shard K/N or set one of ${SHARD_VARIABLES.map((v) => v.index).join(', ')}`);
  return undefined;
}
