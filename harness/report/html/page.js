// The report page's behaviour: filters, the case list, and each case's details, built from the
// embedded JSON only when first needed, so the grid and the failures paint before any parsing.
(function () {
  'use strict';
  var PAGE = 200;
  var data = null;
  // The server drew the first failing cases; `matching` is computed when the list first changes.
  var shown = document.querySelectorAll('#case-list > details').length;
  var matching = null;

  function load() {
    if (!data) data = JSON.parse(document.getElementById('report-data').textContent);
    return data;
  }
  function cls(verdict) {
    return load().classes[verdict] || 'fail';
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function tag(c) {
    if (c.v === 'passed') return c.f ? 'FLAKY' : c.k ? 'UNEXPECTED PASS' : 'PASS';
    return { failed: 'FAIL', 'known-failure': 'KNOWN', skipped: 'SKIP' }[c.v] || c.v.toUpperCase();
  }
  function firstLine(text) {
    return (text || '').split('\n', 1)[0];
  }
  function label(c) {
    return c.a + ' ' + c.s + '/' + c.c + (c.m === 'built' ? '' : ' [' + c.m + ']');
  }
  function diffPre(text) {
    var pre = el('pre', 'diff');
    text.split('\n').forEach(function (line) {
      var kind = /^(\+\+\+|---) /.test(line) ? 'hunk' : line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : line.slice(0, 2) === '@@' ? 'hunk' : '';
      var span = el('span', kind, line + '\n');
      pre.appendChild(span);
    });
    return pre;
  }
  function block(parent, title, text) {
    if (text === undefined || text === null) return;
    parent.appendChild(el('h4', '', title));
    parent.appendChild(el('pre', '', text === '' ? '(empty)' : text));
  }
  function commandText(argv) {
    if (argv.length === 3 && argv[1] === '-c' && /sh$/.test(argv[0])) return argv[2];
    return argv.map(function (a) { return /^[\w@%+=:,./-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'"; }).join(' ');
  }
  function attemptText(t) {
    var how = t.t ? 'timed out' : t.g ? 'killed by ' + t.g : 'exit ' + t.x;
    return how + ' (' + (t.d / 1000).toFixed(3) + ' s)';
  }
  function detail(c) {
    var box = el('div', 'detail');
    var facts = c.v + (c.f ? ', flaky' : '') + ' on ' + c.a + ', image ' + c.m + ', ' + (c.d / 1000).toFixed(3) + ' s';
    box.appendChild(el('div', 'meta', facts));
    if (c.k) box.appendChild(el('div', 'meta', 'known failure: ' + c.k));
    if (c.msg) {
      box.appendChild(el('h4', '', /\n[-+@]/.test(c.msg) ? 'why (diff)' : 'why'));
      box.appendChild(diffPre(c.msg));
    }
    if (c.cmd) block(box, 'command', commandText(c.cmd));
    if (c.in !== undefined) block(box, 'stdin', c.in);
    if (c.ex) {
      var expect = [];
      if (!c.ex.anyExitCode) expect.push('exit ' + (c.ex.exitCode === undefined ? 0 : c.ex.exitCode));
      if (c.ex.stdoutMatches !== undefined) expect.push('stdout matching /' + c.ex.stdoutMatches + '/m');
      block(box, 'expected', expect.join(', ') || 'any exit code');
      if (c.ex.stdout !== undefined) block(box, 'expected stdout', c.ex.stdout);
    }
    if (c.at && c.at.length) block(box, 'attempts', c.at.map(function (t, i) { return 'attempt ' + (i + 1) + ': ' + attemptText(t); }).join('\n'));
    if (c.o !== undefined) block(box, 'actual stdout', c.o);
    if (c.e) block(box, 'actual stderr', c.e);
    if (!c.cmd && !c.msg && !c.o) box.appendChild(el('div', 'meta', 'no further details recorded'));
    return box;
  }
  function row(c) {
    var details = el('details', c.f ? 'known' : cls(c.v));
    details.dataset.i = c.i;
    details.dataset.isa = c.a;
    details.dataset.suite = c.s;
    details.dataset.case = c.c;
    var summary = el('summary');
    summary.appendChild(el('span', 'tag', tag(c)));
    summary.appendChild(document.createTextNode(label(c) + (c.msg ? ': ' + firstLine(c.msg) : '')));
    details.appendChild(summary);
    return details;
  }
  function onToggle(event) {
    var details = event.target;
    if (details.tagName !== 'DETAILS' || !details.open || details.dataset.filled) return;
    details.dataset.filled = '1';
    details.appendChild(detail(load().cases[Number(details.dataset.i)]));
  }
  function filters() {
    return {
      isa: document.getElementById('f-isa').value,
      suite: document.getElementById('f-suite').value,
      verdict: document.getElementById('f-verdict').value,
      text: document.getElementById('f-text').value.toLowerCase(),
    };
  }
  function matches(c, f) {
    if (f.isa && c.a !== f.isa) return false;
    if (f.suite && c.s !== f.suite) return false;
    if (f.verdict === ':failing' && cls(c.v) !== 'fail' && !c.f) return false;
    if (f.verdict === ':flaky' && !c.f) return false;
    if (f.verdict && f.verdict[0] !== ':' && c.v !== f.verdict) return false;
    if (f.text && (c.s + '/' + c.c + ' ' + c.m).toLowerCase().indexOf(f.text) < 0) return false;
    return true;
  }
  function showMore() {
    if (!matching) {
      var f = filters();
      matching = load().cases.filter(function (c) { return matches(c, f); });
    }
    var list = document.getElementById('case-list');
    var fragment = document.createDocumentFragment();
    matching.slice(shown, shown + PAGE).forEach(function (c) { fragment.appendChild(row(c)); });
    list.appendChild(fragment);
    shown = Math.min(matching.length, shown + PAGE);
    document.getElementById('case-count').textContent = matching.length + ' matching case' + (matching.length === 1 ? '' : 's') + (shown < matching.length ? ', showing ' + shown : '');
    document.getElementById('more').hidden = shown >= matching.length;
  }
  function apply() {
    var f = filters();
    matching = load().cases.filter(function (c) { return matches(c, f); });
    document.getElementById('case-list').textContent = '';
    shown = 0;
    showMore();
  }
  document.getElementById('cases').addEventListener('toggle', onToggle, true);
  ['f-isa', 'f-suite', 'f-verdict'].forEach(function (id) { document.getElementById(id).addEventListener('change', apply); });
  var typing;
  document.getElementById('f-text').addEventListener('input', function () { clearTimeout(typing); typing = setTimeout(apply, 150); });
  document.getElementById('more').addEventListener('click', showMore);
  document.querySelector('table.grid').addEventListener('click', function (event) {
    var cell = event.target.closest('td.cell');
    if (!cell) return;
    document.getElementById('f-isa').value = cell.dataset.isa;
    document.getElementById('f-suite').value = cell.dataset.suite;
    document.getElementById('f-verdict').value = cell.classList.contains('fail') ? ':failing' : '';
    apply();
    document.getElementById('cases').scrollIntoView();
  });
})();
