// Markdown for a CI step summary (GitHub's GITHUB_STEP_SUMMARY) and for release notes: the
// verdict, what failed, the grid, the changes against a baseline, each failure's diff and the
// host, in that order, cut to a size budget so the failures always make it in. Pure but for
// writeStepSummary.
import { appendFile } from 'node:fs/promises';
import { CHANGE_KINDS, CHANGE_TITLES, changeLabel, changesOf, type Comparison } from '../diff.ts';
import { HarnessError } from '../errors.ts';
import type { Qualification } from '../qualify.ts';
import type { CaseResult, RunResults } from '../results.ts';
import { whatFailed } from './failures.ts';
import { matrixNameOf } from './load.ts';
import { compareIsas } from './order.ts';
import { gridKey, orderVerdicts, verdictClass, verdictGrid } from './verdicts.ts';

/** A step summary's share of GitHub's 1 MiB per job: what the harness allows itself. */
export const MARKDOWN_BUDGET_BYTES = 64 * 1024;
/** Kept free for the closing "N more" lines. */
const TRAILER_BYTES = 512;
/** Lines of a failure's diff shown in the summary (the HTML report has all). */
const DIFF_LINES = 30;

export interface MarkdownOptions {
  comparison?: Comparison;
  qualification?: Qualification;
  budgetBytes?: number;
}

const MARK: Record<string, string> = { fail: '❌', known: '⚠️', skip: '⏭️', pass: '✅' };

/** Markdown-safe inline text: no table pipes, no stray emphasis or HTML. */
function inline(text: string): string {
  return text.replace(/[\\`*[\]<>|]/g, (ch) => `\\${ch}`).replace(/\n/g, ' ');
}

/** A fenced block that its content cannot close. */
function fenced(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text.replace(/\n+$/, '')}\n${fence}`;
}

class Budget {
  readonly parts: string[] = [];
  private used = 0;
  /** Bytes held back for sections that come later and must appear (grid, host). */
  private reserved = 0;
  constructor(private readonly limit: number) {}
  reserve(text: string): void {
    this.reserved += Buffer.byteLength(text) + 1;
  }
  /** Adds a reserved section: it always fits. */
  addReserved(text: string): void {
    const bytes = Buffer.byteLength(text) + 1;
    this.reserved -= bytes;
    this.parts.push(text);
    this.used += bytes;
  }
  /** Adds `text` when it fits (keeping room for the reserved sections and the trailer); says whether it did. */
  add(text: string, cap = Infinity): boolean {
    const bytes = Buffer.byteLength(text) + 1;
    if (this.used + bytes > Math.min(cap, this.limit - TRAILER_BYTES - this.reserved)) return false;
    this.parts.push(text);
    this.used += bytes;
    return true;
  }
  /** Adds items one by one, this section using at most `share` of the budget; says how many were left out. */
  addAll(items: string[], more: (left: number) => string, share = 1): void {
    const cap = this.used + share * this.limit;
    for (const [index, item] of items.entries()) {
      if (!this.add(item, cap)) {
        const line = more(items.length - index);
        this.parts.push(line);
        this.used += Buffer.byteLength(line) + 1;
        return;
      }
    }
  }
}

function gridMarkdown(run: RunResults): string {
  const grid = verdictGrid(run.results);
  const lines = [`| ISA | ${grid.suites.join(' | ')} |`, `| --- |${grid.suites.map(() => ' ---: |').join('')}`];
  for (const isa of grid.isas) {
    const cells = grid.suites.map((suite) => {
      const cell = grid.cells[gridKey(isa, suite)];
      if (!cell) return '-';
      const counts = orderVerdicts(Object.keys(cell.verdicts)).map((v) => `${cell.verdicts[v]} ${v}`).join(', ');
      return `${MARK[cell.worst]} ${counts}${cell.flaky ? `, ${cell.flaky} flaky` : ''}`;
    });
    lines.push(`| ${isa} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function failureDetail(r: CaseResult): string {
  const message = (r.message ?? r.verdict).split('\n');
  const shown = message.slice(0, DIFF_LINES + 1).join('\n') + (message.length > DIFF_LINES + 1 ? `\n[... ${message.length - DIFF_LINES - 1} more lines in the HTML report]` : '');
  const command = r.spec ? `\n\ncommand: ${fenced(r.spec.argv.length === 3 && r.spec.argv[1] === '-c' ? (r.spec.argv[2] as string) : r.spec.argv.join(' '), 'sh')}` : '';
  return `<details><summary>${inline(`${r.isa} ${r.suite}/${r.case}${r.image === 'built' ? '' : ` [${r.image}]`}`)}</summary>\n\n${fenced(shown, 'diff')}${command}\n\n</details>`;
}

function headline(run: RunResults, q: Qualification | undefined): string {
  const grid = verdictGrid(run.results);
  const counts = grid.verdicts.filter((v) => grid.totals[v]).map((v) => `${grid.totals[v]} ${v}`).join(', ');
  const flaky = run.results.filter((r) => r.flaky).length;
  const verdict = q ? (q.qualified ? '✅ QUALIFIED' : '❌ NOT QUALIFIED') : run.results.some((r) => verdictClass(r.verdict) === 'fail') ? '❌ failed' : '✅ passed';
  return `## ${verdict}: ${inline(matrixNameOf(run))}\n\n**${run.results.length} cases** on ${grid.isas.length} ISAs: ${counts}${flaky ? `, ${flaky} flaky` : ''} (${run.properties.startedAt})`;
}

/** The summary as Markdown, within `budgetBytes` (default 64 KB). */
export function markdownReport(run: RunResults, options: MarkdownOptions = {}): string {
  const out = new Budget(options.budgetBytes ?? MARKDOWN_BUDGET_BYTES);
  const q = options.qualification;
  const grid = `\n### ISA × suite\n\n${gridMarkdown(run)}`;
  const host = hostMarkdown(run);
  out.reserve(grid);
  out.reserve(host);
  out.add(headline(run, q));
  // Failures first; each list gets a share of the budget so the next still shows.
  if (q?.reasons.length) {
    out.add(`\n### Why not qualified (${q.reasons.length})\n`);
    out.addAll(q.reasons.map((r) => `- ${inline(r)}`), (left) => `- … ${left} more (see the HTML report)`, 0.2);
  }
  const failed = whatFailed(run.results);
  if (failed.length) {
    out.add(`\n### What failed (${failed.length})\n`);
    out.addAll(failed.map((line) => `- ${inline(line)}`), (left) => `- … ${left} more (see the HTML report)`, 0.2);
  }
  out.addReserved(grid);
  const c = options.comparison;
  if (c) {
    out.add(`\n### Against the baseline (${c.old.startedAt})\n\n${CHANGE_KINDS.map((k) => `${c.totals[k]} ${CHANGE_TITLES[k]}`).join(', ')}`);
    for (const kind of CHANGE_KINDS) {
      const changes = changesOf(c, kind);
      if (!changes.length) continue;
      out.add(`\n**${CHANGE_TITLES[kind]}** (${changes.length})\n`);
      out.addAll(
        changes.map((ch) => `- ${inline(`${changeLabel(ch)}: ${ch.before ?? '(absent)'} -> ${ch.after ?? '(absent)'}${ch.note ? `: ${ch.note}` : ''}`)}`),
        (left) => `- … ${left} more (harness diff --json lists all)`,
        0.1,
      );
    }
  }
  const failing = run.results
    .filter((r) => verdictClass(r.verdict) === 'fail')
    .sort((a, b) => compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite) || a.case.localeCompare(b.case));
  if (failing.length) {
    out.add(`\n### Failures\n`);
    out.addAll(failing.map(failureDetail), (left) => `\n… ${left} more failures in the HTML report`);
  }
  out.addReserved(host);
  return `${out.parts.join('\n')}\n`;
}

function hostMarkdown(run: RunResults): string {
  const isas = Object.entries(run.properties.isas).sort(([a], [b]) => compareIsas(a, b));
  return (
    `\n### Host\n\nkernel ${inline(run.properties.kernel)} (${inline(run.properties.hostMachine)}), harness ${inline(run.properties.harnessVersion)}\n\n` +
    `| ISA | QEMU | binfmt flags | image digest |\n| --- | --- | --- | --- |\n` +
    isas.map(([isa, f]) => {
      const digests = Object.values(run.properties.images).filter((i) => i.isa === isa).map((i) => `\`${i.digest.slice(0, 19)}\``).join(' ');
      return `| ${isa} | ${inline(f.qemuVersion)} | ${inline(f.binfmtFlags)} | ${digests} |`;
    }).join('\n')
  );
}

/** Appends the summary to $GITHUB_STEP_SUMMARY when the CI sets it; does nothing otherwise. */
export async function writeStepSummary(run: RunResults, options: MarkdownOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return undefined;
  await appendFile(path, markdownReport(run, options)).catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`GITHUB_STEP_SUMMARY=${path}: cannot append the summary (${error.code}); unset it or point it at a writable file`);
  });
  return path;
}
