// Dashboard of microvm-orchestrator: one WebSocket for live events, a few REST calls for snapshots.
// Everything shown comes from tasks, i.e. from untrusted guests: text is only ever set with
// textContent, never parsed as HTML.
'use strict';
(() => {
  const MAX_LOG_LINES = 3000;
  const LOG_TAIL_BYTES = 65536;
  const ACTIVE = ['running', 'starting', 'merging', 'queued'];
  const FINISHED = ['completed', 'failed', 'cancelled'];

  const s = {
    tasks: new Map(),      // id -> {id, state, repo, description, progress, updated, stateSeq}
    logs: new Map(),       // id -> [{stream, text}]
    completeLog: new Set(),// ids whose every log line since the start arrived here live
    seams: new Map(),      // id -> {end, first, join, loading}: console byte offsets, see receiveLog
    partial: new Map(),    // id -> {text, to}: the start of a long console line that goes on in the next event
    selected: null,
    tab: 'log',
    lastSeq: null,
    snapshotLoaded: false,
    retry: 0,
    slots: null,
    nodes: null,
    renderQueued: false,
    denied: [],            // newest first: {task, method, host, port, reason, ts}
    deniedTotal: 0,
  };
  const MAX_DENIED = 50;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  };
  const stateOf = (v) => String(v || 'unknown').toLowerCase();

  // ---------- connection ----------
  function setConn(kind, text) {
    $('conn').dataset.state = kind;
    $('conn-text').textContent = text;
  }

  function connect() {
    const query = s.lastSeq != null ? '?since=' + s.lastSeq : '';
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(scheme + location.host + '/events' + query);
    setConn('connecting', s.lastSeq != null ? 'resuming from #' + s.lastSeq + '…' : 'connecting…');
    ws.onmessage = (m) => {
      let frame;
      try { frame = JSON.parse(m.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = () => {
      const delay = Math.min(5000, 250 * Math.pow(2, s.retry++));
      setConn('down', 'disconnected — retrying in ' + Math.round(delay / 100) / 10 + ' s');
      setTimeout(connect, delay);
    };
  }

  function onFrame(f) {
    if (f.type === 'events') {
      f.events.forEach(applyEvent);
    } else if (f.type === 'live') {
      s.retry = 0;
      if (s.lastSeq == null || f.seq > s.lastSeq) s.lastSeq = f.seq;
      setConn('live', 'live · #' + s.lastSeq);
      loadSnapshot(!s.snapshotLoaded);
      s.snapshotLoaded = true;
    } else if (f.type === 'overrun') {
      // the server drops us because we fell behind; the reconnect resumes exactly here
      s.lastSeq = f.resume_from;
    }
  }

  // ---------- REST ----------
  async function api(path) {
    const r = await fetch(path, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new Error((body && body.error) || ('HTTP ' + r.status));
    return body;
  }

  async function loadSnapshot(withTasks) {
    if (withTasks) {
      const asOf = s.lastSeq || 0;
      try {
        const reply = await api('/api/tasks');
        (reply.tasks || []).forEach((t) => mergeTask(t, asOf));
        scheduleRender();
      } catch (e) {
        $('no-tasks').textContent = 'Task list unavailable: ' + e.message;
      }
    }
    refreshSlots();
    refreshNodes();
  }

  function mergeTask(rec, asOfSeq) {
    const id = rec.task_id || rec.id;
    if (!id) return;
    const t = ensureTask(id);
    t.repo = rec.repo || rec.repo_alias || t.repo;
    t.description = rec.description || rec.prompt || t.description;
    t.created = rec.created_at || rec.created || t.created;
    if (t.stateSeq <= asOfSeq && (rec.state || rec.status)) {
      t.state = stateOf(rec.state || rec.status);
      t.updated = rec.updated_at || rec.completed_at || rec.finished_at || rec.started_at || t.created || t.updated;
    }
    if (rec.progress && !t.progress) t.progress = rec.progress;
    const net = rec.network || (rec.options && rec.options.network);
    if (net) t.network = net;
  }

  const pending = {};
  function debounce(key, ms, fn) {
    clearTimeout(pending[key]);
    pending[key] = setTimeout(fn, ms);
  }

  function refreshSlots() {
    api('/api/slots').then((r) => { s.slots = r; renderSlots(); })
      .catch((e) => { s.slots = { error: e.message }; renderSlots(); });
  }

  function refreshNodes() {
    api('/api/nodes').then((r) => { s.nodes = r.nodes || []; renderNodes(); })
      .catch((e) => { s.nodes = { error: e.message }; renderNodes(); });
  }

  function fetchTask(id) {
    api('/api/tasks/' + encodeURIComponent(id)).then((rec) => { mergeTask(rec, -1); scheduleRender(); }).catch(() => {});
  }

  // ---------- events ----------
  function ensureTask(id) {
    let t = s.tasks.get(id);
    if (!t) {
      t = { id, state: 'unknown', repo: '', description: '', progress: null, updated: null, stateSeq: 0, fresh: true };
      s.tasks.set(id, t);
    }
    return t;
  }

  function applyEvent(e) {
    if (typeof e.seq !== 'number' || (s.lastSeq != null && e.seq <= s.lastSeq)) return;
    s.lastSeq = e.seq;
    if (document.getElementById('conn').dataset.state === 'live') $('conn-text').textContent = 'live · #' + s.lastSeq;
    const d = e.data || {};
    const id = e.task_id;
    switch (e.type) {
      case 'task.state': {
        if (!id) return;
        const known = s.tasks.has(id);
        const t = ensureTask(id);
        if (!known && !d.previous) s.completeLog.add(id);
        // the first state event names repo and description (abbreviated): show them at once,
        // then fetch the whole record
        if (d.repo && !t.repo) t.repo = d.repo;
        if (d.description && !t.description) t.description = d.description;
        if (!known || !t.description) debounce('task:' + id, 150, () => fetchTask(id));
        t.changed = t.state !== stateOf(d.state);
        t.state = stateOf(d.state);
        t.stateSeq = e.seq;
        t.updated = e.ts;
        if (d.reason) t.reason = d.reason;
        // a task taking or giving back its slot is announced by its state change
        debounce('slots', 200, refreshSlots);
        debounce('nodes', 200, refreshNodes);
        scheduleRender();
        break;
      }
      case 'task.log': {
        if (!id) return;
        const entries = Array.isArray(d.lines) ? d.lines : (d.line != null ? [d.line] : []);
        const lines = joinContinued(id, entries, Array.isArray(d.continues) ? d.continues : [], d.offset, d.next_offset);
        receiveLog(id, d.stream || 'stdout', lines, d.offset, d.next_offset);
        const t = ensureTask(id);
        t.updated = e.ts;
        break;
      }
      case 'task.progress':
        if (id) { const t = ensureTask(id); t.progress = d; t.updated = e.ts; scheduleRender(); }
        break;
      case 'network.denied':
        s.deniedTotal++;
        s.denied.unshift({ task: id, method: d.method, host: d.host, port: d.port, reason: d.reason, ts: e.ts });
        if (s.denied.length > MAX_DENIED) s.denied.length = MAX_DENIED;
        renderDenied();
        break;
      case 'slot':
        debounce('slots', 200, refreshSlots);
        break;
      case 'node':
        debounce('nodes', 200, refreshNodes);
        break;
      default:
        break;
    }
  }

  // Console lines come twice over: as live task.log events, each covering the console bytes
  // [offset, next_offset), and as the backlog read from the log file when a task is selected
  // midway. Byte offsets join the two without a line missing or shown twice: the backlog is read
  // up to exactly where the first live line held here begins, and a live event whose bytes were
  // already shown is dropped (the node repeats output after a restart, too).
  function seam(id) {
    let m = s.seams.get(id);
    if (!m) { m = { end: null, first: null, join: false, loading: false }; s.seams.set(id, m); }
    return m;
  }

  // A console line longer than the node's entry size arrives as several entries; each entry listed
  // in `continues` goes on in the next entry, which may be in the task's next event. Join them
  // back into the one line the task printed.
  function joinContinued(id, entries, continues, from, to) {
    const goesOn = new Set(continues);
    const carried = s.partial.get(id);
    let current = carried && carried.to === from ? carried.text : '';
    s.partial.delete(id);
    const out = [];
    entries.forEach((text, i) => {
      current += String(text);
      if (!goesOn.has(i)) { out.push(current); current = ''; }
    });
    if (current) s.partial.set(id, { text: current, to });
    return out;
  }

  function receiveLog(id, stream, lines, from, to) {
    if (typeof from !== 'number' || typeof to !== 'number') { appendLog(id, stream, lines); return; }
    const m = seam(id);
    if (m.end != null && to <= m.end) return;
    if (m.join) {
      // the backlog ended at m.end, possibly inside a line: unless this event starts right
      // there, read the backlog again up to where it starts
      m.join = false;
      if (from !== m.end) {
        s.logs.set(id, []);
        m.first = from;
        m.end = to;
        appendLog(id, stream, lines);
        if (s.selected === id) renderLog();
        loadLogBacklog(id);
        return;
      }
    }
    if (m.first == null && !s.completeLog.has(id)) m.first = from;
    m.end = Math.max(m.end || 0, to);
    appendLog(id, stream, lines);
  }

  function appendLog(id, stream, lines) {
    let buf = s.logs.get(id);
    if (!buf) { buf = []; s.logs.set(id, buf); }
    const added = lines.map((text) => ({ stream, text: String(text) }));
    buf.push(...added);
    if (buf.length > MAX_LOG_LINES) buf.splice(0, buf.length - MAX_LOG_LINES);
    if (s.selected === id) {
      const pre = $('log');
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
      added.forEach((l) => pre.appendChild(logLine(l)));
      while (pre.childNodes.length > MAX_LOG_LINES) pre.removeChild(pre.firstChild);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
  }

  // ---------- rendering ----------
  function scheduleRender() {
    if (s.renderQueued) return;
    s.renderQueued = true;
    requestAnimationFrame(() => { s.renderQueued = false; renderTasks(); renderDetail(); });
  }

  function ago(ts) {
    if (!ts) return '';
    const t = Date.parse(ts);
    if (Number.isNaN(t)) return '';
    const sec = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (sec < 60) return sec + 's ago';
    if (sec < 3600) return Math.floor(sec / 60) + 'm ago';
    if (sec < 86400) return Math.floor(sec / 3600) + 'h ago';
    return Math.floor(sec / 86400) + 'd ago';
  }

  function badge(state) {
    return el('span', 'badge ' + state, state);
  }

  function progressCell(p) {
    const td = el('td', 'progress');
    if (!p) return td;
    const parts = [];
    if (p.turns != null) parts.push([p.turns === 1 ? 'turn' : 'turns', p.turns]);
    if (p.tool_uses != null) parts.push([p.tool_uses === 1 ? 'tool' : 'tools', p.tool_uses]);
    if (p.cost_usd != null) parts.push(['$', Number(p.cost_usd).toFixed(3)]);
    parts.forEach(([k, v], i) => {
      if (i) td.appendChild(document.createTextNode(' · '));
      if (k === '$') { td.appendChild(el('b', null, '$' + v)); } else { td.appendChild(el('b', null, v)); td.appendChild(document.createTextNode(' ' + k)); }
    });
    if (p.last_tool) td.appendChild(el('span', 'muted', ' · ' + p.last_tool));
    return td;
  }

  function sortedTasks() {
    const rank = (t) => (ACTIVE.includes(t.state) ? 0 : 1);
    const time = (t) => Date.parse(t.updated || t.created || '') || 0;
    return [...s.tasks.values()].sort((a, b) => rank(a) - rank(b) || time(b) - time(a) || (a.id < b.id ? -1 : 1));
  }

  // rows are kept per task and updated in place, so hover, focus and selection survive updates
  const rows = new Map();

  function taskRow(t) {
    let r = rows.get(t.id);
    if (!r) {
      const tr = el('tr');
      tr.dataset.taskId = t.id;
      tr.addEventListener('click', () => select(t.id));
      r = { tr, sig: null };
      rows.set(t.id, r);
    }
    const tr = r.tr;
    const sig = JSON.stringify([t.state, t.repo, t.description, t.progress, ago(t.updated), t.id === s.selected]);
    if (sig !== r.sig) {
      r.sig = sig;
      tr.dataset.state = t.state;
      tr.classList.toggle('selected', t.id === s.selected);
      const st = el('td');
      st.appendChild(badge(t.state));
      const desc = el('td', 'desc-cell');
      desc.appendChild(el('div', null, t.description || ''));
      desc.title = t.description || '';
      tr.replaceChildren(st, el('td', 'mono', t.id), el('td', null, t.repo || ''), desc, progressCell(t.progress),
        el('td', 'muted', ago(t.updated)));
    }
    if (t.changed) {
      t.changed = false;
      tr.classList.remove('flash');
      void tr.offsetWidth; // restart the animation
      tr.classList.add('flash');
    }
    return tr;
  }

  function renderTasks() {
    const filter = $('filter').value.trim().toLowerCase();
    const body = $('task-rows');
    const counts = {};
    const order = [];
    for (const t of sortedTasks()) {
      counts[t.state] = (counts[t.state] || 0) + 1;
      const hay = (t.id + ' ' + t.repo + ' ' + t.description + ' ' + t.state).toLowerCase();
      if (filter && !hay.includes(filter)) continue;
      order.push(taskRow(t));
    }
    order.forEach((tr, i) => { if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null); });
    while (body.children.length > order.length) body.removeChild(body.lastChild);
    $('no-tasks').hidden = order.length > 0;
    const sum = $('summary');
    sum.replaceChildren();
    for (const st of ['running', 'queued', 'completed', 'failed']) {
      const span = el('span');
      span.appendChild(el('b', null, counts[st] || 0));
      span.appendChild(document.createTextNode(' ' + st));
      sum.appendChild(span);
    }
  }

  function logLine(l) {
    return el('span', 'line' + (l.stream === 'stderr' ? ' stderr' : ''), l.text + '\n');
  }

  function select(id) {
    if (s.selected !== id) {
      s.selected = id;
      s.tab = 'log';
      renderLog();
      if (!s.completeLog.has(id)) loadLogBacklog(id);
    }
    renderTasks();
    renderDetail();
  }

  function renderLog() {
    const pre = $('log');
    const lines = s.logs.get(s.selected) || [];
    pre.replaceChildren(...lines.map(logLine));
    pre.scrollTop = pre.scrollHeight;
  }

  const ANSI = /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)?|[@-Z\\-_])/g;
  const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F]/g;

  // the same cleaning the node gives live console lines: no escapes, no blank lines
  function backlogLines(r) {
    const lines = String(r.content || '').split('\n');
    if (r.offset > 0) lines.shift(); // starts inside a line
    return lines.map((t) => t.slice(t.lastIndexOf('\r', t.length - 2) + 1).replace(ANSI, '').replace(CONTROL, '').trim())
      .filter((t) => t !== '').map((text) => ({ stream: 'console', text }));
  }

  async function loadLogBacklog(id) {
    const m = seam(id);
    if (m.loading) return;
    m.loading = true;
    const logUrl = '/api/tasks/' + encodeURIComponent(id) + '/log?';
    try {
      for (;;) {
        const cut = m.first;
        let r;
        if (cut == null) {
          r = await api(logUrl + 'tail=' + LOG_TAIL_BYTES);
          if (m.first != null) continue; // live lines arrived meanwhile: read exactly up to them
        } else {
          const from = Math.max(0, cut - LOG_TAIL_BYTES);
          r = cut > from ? await api(logUrl + 'offset=' + from + '&limit=' + (cut - from)) : { content: '', offset: 0 };
          if (m.first !== cut) continue;
        }
        const live = s.logs.get(id) || [];
        s.logs.set(id, backlogLines(r).concat(live).slice(-MAX_LOG_LINES));
        if (cut == null && typeof r.next_offset === 'number') {
          m.end = r.next_offset;
          m.join = ACTIVE.includes((s.tasks.get(id) || {}).state);
        }
        s.completeLog.add(id);
        if (s.selected === id) renderLog();
        return;
      }
    } catch (e) {
      if (s.selected === id) $('log').prepend(el('span', 'line stderr', '(earlier output unavailable: ' + e.message + ')\n'));
    } finally {
      m.loading = false;
    }
  }

  function renderDetail() {
    const id = s.selected;
    const panel = $('detail');
    if (!id) { panel.hidden = true; return; }
    const t = s.tasks.get(id);
    panel.hidden = false;
    $('detail-title').textContent = id;
    const b = $('detail-state');
    b.className = 'badge ' + t.state;
    b.textContent = t.state;
    $('detail-meta').textContent = [t.repo, t.network && ('network ' + t.network), t.reason].filter(Boolean).join(' · ');
    $('detail-desc').textContent = t.description || '';
    const finished = FINISHED.includes(t.state);
    $('tab-diff').disabled = !finished;
    if (!finished && s.tab === 'diff') s.tab = 'log';
    for (const btn of document.querySelectorAll('.tab')) btn.classList.toggle('active', btn.dataset.tab === s.tab);
    $('log').hidden = s.tab !== 'log';
    $('diff').hidden = s.tab !== 'diff';
  }

  async function loadDiff(id) {
    const box = $('diff');
    box.replaceChildren(el('span', 'muted', 'loading diff…'));
    try {
      const r = await api('/api/tasks/' + encodeURIComponent(id) + '/diff');
      if (s.selected !== id) return;
      const text = String(r.patch != null ? r.patch : (r.diff || ''));
      if (!text) { box.replaceChildren(el('span', 'muted', 'No changes.')); return; }
      const frag = document.createDocumentFragment();
      for (const line of text.split('\n')) {
        let cls = 'ctx';
        if (line.startsWith('diff --git')) cls = 'file';
        else if (line.startsWith('+++') || line.startsWith('---')) cls = 'ctx muted';
        else if (line.startsWith('@@')) cls = 'hunk';
        else if (line.startsWith('+')) cls = 'add';
        else if (line.startsWith('-')) cls = 'del';
        frag.appendChild(el(cls === 'file' ? 'div' : 'span', cls, line + (cls === 'file' ? '' : '\n')));
      }
      if (typeof r.next_offset === 'number' && r.next_offset >= 0) {
        frag.appendChild(el('div', 'muted', 'Diff truncated here; get_task_diff with offset ' + r.next_offset + ' shows the rest.'));
      }
      box.replaceChildren(frag);
    } catch (e) {
      box.replaceChildren(el('span', 'muted', 'Diff unavailable: ' + e.message));
    }
  }

  function renderSlots() {
    const box = $('slots');
    const r = s.slots;
    box.replaceChildren();
    if (!r) return;
    if (r.error) { box.appendChild(el('div', 'muted', 'Slots unavailable: ' + r.error)); $('slot-summary').textContent = ''; return; }
    const busy = new Map((r.active || []).map((a) => [String(a.slot), a.task_id]));
    const all = new Set([...(r.available || []).map(String), ...busy.keys()]);
    const numbers = [...all].sort((a, b) => Number(a) - Number(b));
    for (const n of numbers) {
      const task = busy.get(n);
      const card = el('div', 'slot ' + (task ? 'busy' : 'free'));
      card.dataset.slot = n;
      card.appendChild(el('div', 'n', 'slot ' + n));
      card.appendChild(el('div', 't', task || 'free'));
      if (task) { card.title = task; card.addEventListener('click', () => select(task)); }
      box.appendChild(card);
    }
    const queued = r.queued || [];
    $('slot-summary').textContent = busy.size + ' / ' + (r.max_slots || numbers.length) + ' in use' + (queued.length ? ' · ' + queued.length + ' queued' : '');
  }

  // A guest's refused attempts (network allowlist). Host names come from the guest: textContent only.
  function renderDenied() {
    const list = $('denied');
    list.textContent = '';
    $('denied-count').textContent = s.deniedTotal ? String(s.deniedTotal) : '';
    if (!s.denied.length) {
      list.appendChild(el('li', 'muted', 'None. Guests under network allowlist that try a domain off their list show up here.'));
      return;
    }
    for (const x of s.denied) {
      const li = el('li', 'denied-item');
      li.appendChild(el('span', 'denied-host', (x.method || '?') + ' ' + x.host + ':' + x.port));
      li.appendChild(el('span', 'muted', ' · ' + (x.task || '') + ' · ' + ago(x.ts)));
      li.title = x.reason || '';
      list.appendChild(li);
    }
  }

  function renderNodes() {
    const ul = $('nodes');
    ul.replaceChildren();
    const n = s.nodes;
    if (!n) return;
    if (n.error) { ul.appendChild(el('li', 'muted', 'Nodes unavailable: ' + n.error)); return; }
    for (const node of n) {
      const li = el('li');
      const name = el('span');
      name.appendChild(el('span', 'mono', node.node_id || '?'));
      if (node.host) name.appendChild(el('span', 'muted', ' ' + node.host));
      li.appendChild(name);
      const load = [];
      if (node.running != null) load.push(node.running + ' running');
      else if (node.owned_tasks != null) load.push(node.owned_tasks + (node.owned_tasks === 1 ? ' task' : ' tasks'));
      const fp = node.fingerprint;
      if (fp) load.push([fp.driver, fp.version, fp.accelerator].filter(Boolean).join(' '));
      else if (node.driver) load.push(node.driver);
      if (node.slots != null) load.push(node.slots + ' slots');
      const right = el('span', 'muted', load.join(' · '));
      if (fp) {
        right.title = fp.detail || '';
        right.appendChild(el('span', fp.healthy ? 'healthy' : 'unhealthy', fp.healthy ? ' · healthy' : ' · unhealthy'));
      }
      li.appendChild(right);
      ul.appendChild(li);
    }
    if (!n.length) ul.appendChild(el('li', 'muted', 'No nodes reported.'));
  }

  // ---------- wiring ----------
  for (const btn of document.querySelectorAll('.tab')) {
    btn.addEventListener('click', () => {
      if (btn.disabled) return;
      s.tab = btn.dataset.tab;
      renderDetail();
      if (s.tab === 'diff' && s.selected) loadDiff(s.selected);
    });
  }
  $('filter').addEventListener('input', renderTasks);
  setInterval(renderTasks, 5000);
  renderTasks();
  connect();
})();
