// The HTML report: one self-contained page (inline CSS and JS, no network) over a run's
// results: the ISA x suite grid, the failures with their command, input, expected and actual
// output and diff, host facts and image digests, and with a baseline the changes, regressions
// first. The grid and the first failures are HTML; everything else sits in embedded JSON that
// the page reads only when a filter or a case is opened, so it opens fast at 10,000 cases.
import { readFileSync } from 'node:fs';
import { CHANGE_KINDS, CHANGE_TITLES, changeLabel, changesOf, type Comparison } from '../diff.ts';
import type { Qualification } from '../qualify.ts';
import type { CaseResult, RunResults } from '../results.ts';
import { writeFileAtomic } from './atomic.ts';
import { truncateOutput } from './truncate.ts';
import { matrixNameOf } from './load.ts';
import { compareIsas } from './order.ts';
import { gridKey, orderVerdicts, verdictClass, verdictGrid, type VerdictClass } from './verdicts.ts';

const CSS = readFileSync(new URL('./html/page.css', import.meta.url), 'utf8');
const SCRIPT = readFileSync(new URL('./html/page.js', import.meta.url), 'utf8');

/** Failing cases drawn as HTML before any script runs; the page's "more" button adds the rest. */
const FIRST_ROWS = 200;
/** Changes listed per kind; the counts are always whole. */
const CHANGES_PER_KIND = 500;

export interface HtmlReportOptions {
  comparison?: Comparison;
  qualification?: Qualification;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}

/** A case as the page's JSON holds it: short keys, outputs only where they explain something. */
interface PageCase {
  i: number; a: string; s: string; c: string; m: string; v: string; d: number;
  f?: 1; k?: string; msg?: string; cmd?: string[]; in?: string; ex?: object;
  at?: Array<{ x: number | null; g: string | null; t: boolean; d: number }>; o?: string; e?: string;
}

const CLASS_RANK: VerdictClass[] = ['fail', 'known', 'skip', 'pass'];

/** Failing first, then known failures, skips and passes; within each by ISA, suite and case. */
function pageOrder(results: readonly CaseResult[]): CaseResult[] {
  const rank = (r: CaseResult) => (r.flaky ? 0.5 : CLASS_RANK.indexOf(verdictClass(r.verdict)));
  return [...results].sort((a, b) => rank(a) - rank(b) || compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite) || a.case.localeCompare(b.case) || a.image.localeCompare(b.image));
}

function pageCase(r: CaseResult, i: number): PageCase {
  const explains = r.verdict !== 'passed' || r.flaky || r.attachOutput || r.knownFailure !== undefined;
  const last = r.attempts.at(-1);
  return {
    i, a: r.isa, s: r.suite, c: r.case, m: r.image, v: r.verdict, d: r.durationMs,
    ...(r.flaky && { f: 1 as const }),
    ...(r.knownFailure && { k: r.knownFailure.link ? `${r.knownFailure.reason} (${r.knownFailure.link})` : r.knownFailure.reason }),
    ...(r.message && { msg: r.message }),
    ...(r.spec && { cmd: r.spec.argv, ...(r.spec.stdin !== undefined && { in: r.spec.stdin }) }),
    ...(explains && r.spec && { ex: r.spec.expect }),
    ...(explains && r.attempts.length && { at: r.attempts.map((t) => ({ x: t.exitCode, g: t.signal, t: t.timedOut, d: t.durationMs })) }),
    ...(explains && last && { o: truncateOutput(last.stdout), e: truncateOutput(last.stderr) }),
  };
}

/** JSON that is safe inside a <script> element: no "</script>" or "<!--" can close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function rowTag(r: CaseResult): string {
  if (r.verdict === 'passed') return r.flaky ? 'FLAKY' : r.knownFailure ? 'UNEXPECTED PASS' : 'PASS';
  return ({ failed: 'FAIL', 'known-failure': 'KNOWN', skipped: 'SKIP' } as Record<string, string>)[r.verdict] ?? r.verdict.toUpperCase();
}

function caseRow(r: CaseResult, i: number): string {
  const first = r.message?.split('\n', 1)[0];
  const image = r.image === 'built' ? '' : ` [${r.image}]`;
  return `<details class="${r.flaky ? 'known' : verdictClass(r.verdict)}" data-i="${i}" data-isa="${esc(r.isa)}" data-suite="${esc(r.suite)}" data-case="${esc(r.case)}"><summary><span class="tag">${rowTag(r)}</span>${esc(`${r.isa} ${r.suite}/${r.case}${image}${first ? `: ${first}` : ''}`)}</summary></details>`;
}

function gridHtml(run: RunResults): string {
  const grid = verdictGrid(run.results);
  const head = `<tr><th>ISA</th>${grid.suites.map((s) => `<th>${esc(s)}</th>`).join('')}</tr>`;
  const rows = grid.isas.map((isa) => {
    const cells = grid.suites.map((suite) => {
      const cell = grid.cells[gridKey(isa, suite)];
      if (!cell) return '<td class="empty">-</td>';
      const counts = orderVerdicts(Object.keys(cell.verdicts))
        .map((v) => `<span class="v ${verdictClass(v)}" data-verdict="${esc(v)}" data-count="${cell.verdicts[v]}">${cell.verdicts[v]} ${esc(v)}</span>`)
        .join('');
      const flaky = cell.flaky ? `<span class="v flaky" data-flaky="${cell.flaky}">${cell.flaky} flaky</span>` : '';
      return `<td class="cell ${cell.worst}" data-isa="${esc(isa)}" data-suite="${esc(suite)}" title="show these cases"><span class="total" data-count="total">${cell.total}</span>${counts}${flaky}</td>`;
    });
    return `<tr><th>${esc(isa)}</th>${cells.join('')}</tr>`;
  });
  const totals = grid.verdicts
    .map((v) => `<span class="v ${verdictClass(v)}" data-total-verdict="${esc(v)}">${grid.totals[v] ?? 0} ${esc(v)}</span>`)
    .join('');
  return `<p class="totals"><b>${run.results.length} cases</b>: ${totals}</p><table class="grid">${head}${rows.join('')}</table>`;
}

function qualificationHtml(q: Qualification): string {
  const reasons = q.reasons.length ? `<ul class="reasons">${q.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
  const notes = q.notes.length ? `<p>Noted (not failing):</p><ul class="reasons">${q.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  return `<h2>Qualification against ${esc(q.baselineFile)}</h2>${reasons}${notes}`;
}

function comparisonHtml(c: Comparison): string {
  const sections = CHANGE_KINDS.map((kind) => {
    const changes = changesOf(c, kind);
    if (!changes.length) return '';
    const items = changes.slice(0, CHANGES_PER_KIND).map((ch) => `<li data-kind="${kind}">${esc(`${changeLabel(ch)}: ${ch.before ?? '(absent)'} -> ${ch.after ?? '(absent)'}${ch.note ? `: ${ch.note}` : ''}`)}</li>`);
    const more = changes.length > CHANGES_PER_KIND ? `<li class="count-note">and ${changes.length - CHANGES_PER_KIND} more (harness diff --json lists all)</li>` : '';
    return `<h3 class="${kind}">${esc(CHANGE_TITLES[kind])} (${changes.length})</h3><ul>${items.join('')}${more}</ul>`;
  }).join('');
  const images = c.imageChanges.map((i) => `<li>${esc(`image ${i.image}: ${i.before ?? '(absent)'} -> ${i.after ?? '(absent)'}`)}</li>`).join('');
  const counts = CHANGE_KINDS.map((k) => `${c.totals[k]} ${CHANGE_TITLES[k]}`).join(', ');
  return `<h2>Changes against the baseline (${esc(c.old.startedAt)})</h2><div class="changes"><p>${esc(counts)}</p>${sections || '<p>No case changed.</p>'}${images ? `<h3>images</h3><ul>${images}</ul>` : ''}</div>`;
}

function hostHtml(run: RunResults): string {
  const p = run.properties;
  const facts: Array<[string, string]> = [
    ['matrix', `${matrixNameOf(run)} (${p.matrix})`], ['harness', p.harnessVersion], ['kernel', p.kernel], ['host machine', p.hostMachine],
    ['started', p.startedAt], ['finished', p.finishedAt],
  ];
  const isas = Object.entries(p.isas).sort(([a], [b]) => compareIsas(a, b))
    .map(([isa, f]) => `<tr><td>${esc(isa)}</td><td>${esc(f.qemuVersion)}</td><td>${esc(f.binfmtFlags)}</td><td>${esc(f.interpreter)}</td></tr>`).join('');
  const images = Object.entries(p.images).sort(([a], [b]) => a.localeCompare(b))
    .map(([key, i]) => `<tr><td>${esc(key)}</td><td>${esc(i.isa)}</td><td><code>${esc(i.digest)}</code></td></tr>`).join('');
  return `<h2>Host and images</h2><table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>` +
    `<h3>QEMU per ISA</h3><table><tr><th>ISA</th><th>QEMU</th><th>binfmt flags</th><th>interpreter</th></tr>${isas}</table>` +
    `<h3>Image digests</h3><table><tr><th>image/ISA</th><th>ISA</th><th>digest</th></tr>${images}</table>`;
}

function option(value: string, text: string, selected = false): string {
  return `<option value="${esc(value)}"${selected ? ' selected' : ''}>${esc(text)}</option>`;
}

/** The page as a string. Pure. */
export function htmlReport(run: RunResults, options: HtmlReportOptions = {}): string {
  const ordered = pageOrder(run.results);
  const grid = verdictGrid(run.results);
  // What the list opens on: failing and flaky cases, which lead `ordered`.
  const failing = ordered.filter((r) => verdictClass(r.verdict) === 'fail' || r.flaky);
  const q = options.qualification;
  const badge = q ? `<span class="badge ${q.qualified ? 'pass' : 'fail'}">${q.qualified ? 'QUALIFIED' : 'NOT QUALIFIED'}</span>` : '';
  const data = { classes: Object.fromEntries(grid.verdicts.map((v) => [v, verdictClass(v)])), cases: ordered.map(pageCase) };
  const title = `alpine-qemu-harness: ${matrixNameOf(run)} ${run.properties.startedAt}`;
  const filters = `<div class="filters">` +
    `<label for="f-isa">ISA</label><select id="f-isa">${option('', 'all')}${grid.isas.map((i) => option(i, i)).join('')}</select>` +
    `<label for="f-suite">suite</label><select id="f-suite">${option('', 'all')}${grid.suites.map((s) => option(s, s)).join('')}</select>` +
    `<label for="f-verdict">verdict</label><select id="f-verdict">${option('', 'all')}${option(':failing', 'failing or flaky', true)}${option(':flaky', 'flaky')}${grid.verdicts.map((v) => option(v, v)).join('')}</select>` +
    `<label for="f-text">case</label><input id="f-text" type="search" placeholder="suite/case contains">` +
    `<span id="case-count">${failing.length} matching case${failing.length === 1 ? '' : 's'}${failing.length > FIRST_ROWS ? `, showing ${FIRST_ROWS}` : ''}</span></div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${badge}${esc(title)}</h1><div class="meta">harness ${esc(run.properties.harnessVersion)}, kernel ${esc(run.properties.kernel)}, ${esc(run.properties.startedAt)} to ${esc(run.properties.finishedAt)}</div></header>
<main>
<h2>ISA x suite</h2>${gridHtml(run)}
${q ? qualificationHtml(q) : ''}${options.comparison ? comparisonHtml(options.comparison) : ''}
<section id="cases"><h2>Cases</h2>${filters}<div id="case-list">${failing.slice(0, FIRST_ROWS).map(caseRow).join('')}</div>
<button id="more" class="more"${failing.length > FIRST_ROWS ? '' : ' hidden'}>show more</button></section>
${hostHtml(run)}
</main>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

export async function writeHtmlReport(run: RunResults, path: string, options: HtmlReportOptions = {}): Promise<void> {
  await writeFileAtomic(path, htmlReport(run, options));
}
