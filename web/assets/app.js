// cairn's web page: plain JavaScript over the JSON API (docs/WEB.md).
// Pages by the URL's fragment: #/ devices, #/browse/ID/PATH, #/diff/A/B,
// #/targets, #/storage/ID.  Every request carries the access token (the
// cookie the server set, and the header from the page's own URL).
'use strict';

const token = new URLSearchParams(location.search).get('token') || '';
const main = document.getElementById('main');

async function api(path) {
  const r = await fetch(path, { headers: token ? { 'X-Cairn-Token': token } : {} });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function human(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function when(sec) {
  return new Date(sec * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

const short = (id) => id.slice(0, 8);
const q = encodeURIComponent;
// a path in the fragment: each name encoded ('#', '%' and '?' are names too)
const hashPath = (p) => p.split('/').map(encodeURIComponent).join('/');

function show(title, ...nodes) {
  main.replaceChildren(el('h1', {}, title), ...nodes);
}

function fail(e) {
  main.replaceChildren(el('p', { class: 'error' }, 'Error: ' + e.message));
}

// ---- devices: one card each, a timeline per chain ----
function timeline(chain, t0, t1, maxAdded) {
  const line = el('div', { class: 'timeline' });
  for (const s of chain.snapshots) {
    const x = t1 > t0 ? 2 + 96 * (s.time - t0) / (t1 - t0) : 50;
    const h = 4 + 22 * Math.sqrt(s.new_bytes / (maxAdded || 1));
    const m = el('a', { class: 'mark', href: '#/browse/' + s.id + '/',
      title: when(s.time) + ' · ' + short(s.id) + ' · added ' + human(s.new_bytes) });
    m.style.left = x + '%';
    m.style.height = h + 'px';
    line.append(m);
  }
  return line;
}

function snapshotRows(chain) {
  const t = el('table', {}, el('tr', {}, el('th', {}, 'Time'), el('th', {}, 'Snapshot'),
    el('th', { class: 'num' }, 'Files'), el('th', { class: 'num' }, 'Size'),
    el('th', { class: 'num' }, 'Added'), el('th', {}, '')));
  let prev = null;
  for (const s of chain.snapshots) {
    const links = el('td', {}, el('a', { href: '#/browse/' + s.id + '/' }, 'browse'));
    // a backup kept as Apple ciphertext has no readable catalog to measure
    if (s.contents !== 'encrypted') links.append(' · ', el('a', { href: '#/storage/' + s.id }, 'storage'));
    if (prev) links.append(' · ', el('a', { href: '#/diff/' + prev.id + '/' + s.id }, 'diff'));
    t.append(el('tr', { class: 'snapshot-row' }, el('td', {}, when(s.time)),
      el('td', {}, el('code', {}, short(s.id))), el('td', { class: 'num' }, s.files),
      el('td', { class: 'num' }, human(s.bytes)), el('td', { class: 'num' }, human(s.new_bytes)),
      links));
    prev = s;
  }
  return t;
}

function sourceCard(title, sub, count, chains) {
  const all = chains.flatMap((c) => c.snapshots);
  const t0 = Math.min(...all.map((s) => s.time)), t1 = Math.max(...all.map((s) => s.time));
  const maxAdded = Math.max(...all.map((s) => s.new_bytes));
  const card = el('div', { class: 'card device' }, el('h2', { class: 'device-name' }, title),
    el('div', { class: 'sub' }, sub, ' · ',
      el('span', { class: 'snapshot-count' }, count + (count === 1 ? ' snapshot' : ' snapshots'))));
  for (const c of chains) {
    const head = el('div', { class: 'chain-name' },
      el('span', { class: 'badge' + (c.archived ? ' archived' : '') }, c.archived ? 'archived' : 'active'),
      ' ', c.name, c.reason ? ' — ' + c.reason : '');
    card.append(el('div', { class: 'chain' + (c.archived ? ' archived' : '') }, head,
      timeline(c, t0, t1, maxAdded), snapshotRows(c)));
  }
  return card;
}

async function pageDevices() {
  const d = await api('/api/devices');
  const cards = d.devices.map((v) => sourceCard(v.name || v.udid,
    [v.product_type, v.product_version && 'iOS ' + v.product_version, v.udid].filter(Boolean).join(' · '),
    v.snapshots, v.chains));
  for (const f of d.folders) {
    const n = f.chains.reduce((a, c) => a + c.snapshots.length, 0);
    cards.push(sourceCard(f.source, 'folder', n, f.chains));
  }
  show('Devices', el('p', { class: 'sub', id: 'store-count' }, d.snapshots + ' snapshot(s) in the store'),
    ...(cards.length ? cards : [el('p', {}, 'No snapshots yet.')]));
}

// ---- a snapshot's browser: domain → folders → files ----
async function pageBrowse(id, path) {
  const d = await api('/api/ls?snapshot=' + q(id) + '&path=' + q(path));
  const crumbs = el('div', { class: 'crumbs' }, el('a', { href: '#/browse/' + id + '/' }, short(id)));
  let acc = '';
  for (const part of path.split('/').filter(Boolean)) {
    acc += (acc ? '/' : '') + part;
    crumbs.append('/ ', el('a', { href: '#/browse/' + id + '/' + hashPath(acc) }, part));
  }
  const t = el('table', {}, el('tr', {}, el('th', {}, 'Name'), el('th', { class: 'num' }, 'Size'),
    el('th', {}, 'Modified')));
  for (const e of d.entries) {
    const p = (path ? path + '/' : '') + e.name;
    const link = e.type === 'dir'
      ? el('a', { href: '#/browse/' + id + '/' + hashPath(p) }, e.name + '/')
      : e.type === 'file'
        ? el('a', { href: '/api/file?snapshot=' + q(id) + '&path=' + q(p), download: e.name }, e.name)
        : el('span', { class: 'link' }, e.name + ' → ' + (e.target === null ? '?' : e.target));
    t.append(el('tr', { class: 'entry-row' }, el('td', {}, link),
      el('td', { class: 'num' }, e.type === 'dir' ? '' : human(e.size)),
      el('td', {}, e.mtime ? when(e.mtime) : '')));
  }
  const nodes = [crumbs];
  if (d.ciphertext) nodes.push(el('p', { class: 'card' }, d.note));
  show('Snapshot ' + short(id), ...nodes, el('div', { class: 'card' }, t));
}

// ---- diff between two snapshots ----
async function allSnapshots() {
  const d = await api('/api/devices');
  const list = [];
  for (const v of d.devices)
    for (const c of v.chains)
      for (const s of c.snapshots) list.push({ s, label: (v.name || v.udid) + ' ' + when(s.time) + ' ' + short(s.id) });
  for (const f of d.folders)
    for (const c of f.chains)
      for (const s of c.snapshots) list.push({ s, label: f.source + ' ' + when(s.time) + ' ' + short(s.id) });
  return list.sort((x, y) => x.s.time - y.s.time);
}

async function pageDiff(a, b) {
  const list = await allSnapshots();
  if (!b && list.length) b = list[list.length - 1].s.id;
  const pick = (sel) => {
    const s = el('select', {});
    for (const x of list) {
      const o = el('option', { value: x.s.id }, x.label);
      if (x.s.id === sel) o.selected = true;
      s.append(o);
    }
    return s;
  };
  const sa = pick(a), sb = pick(b);
  if (!a) sa.selectedIndex = Math.max(0, list.length - 2);
  const go = () => { location.hash = '#/diff/' + sa.value + '/' + sb.value; };
  sa.onchange = go;
  sb.onchange = go;
  const controls = el('div', { class: 'controls' }, 'From', sa, 'to', sb);
  if (!b) return show('Diff', controls);
  let d;
  try {
    d = await api('/api/diff?a=' + q(a || sa.value) + '&b=' + q(b));
  } catch (e) {
    return show('Diff', controls, el('p', { class: 'error' }, e.message));
  }
  const t = el('table', { id: 'diff' }, el('tr', {}, el('th', {}, ''), el('th', {}, 'Path'),
    el('th', { class: 'num' }, 'Old size'), el('th', { class: 'num' }, 'New size')));
  for (const c of d.changes) {
    t.append(el('tr', { class: 'diff-row', 'data-status': c.status },
      el('td', { class: 'status-' + c.status }, c.status),
      el('td', { class: 'path' }, (c.domain ? c.domain + '/' : '') + c.path),
      el('td', { class: 'num' }, c.status === 'A' ? '' : human(c.old_size)),
      el('td', { class: 'num' }, c.status === 'D' ? '' : human(c.new_size))));
  }
  show('Diff', controls,
    el('p', { id: 'diff-summary' }, d.added + ' added, ' + d.removed + ' removed, ' + d.modified +
      ' modified: +' + human(d.bytes_added) + ', −' + human(d.bytes_removed) + '; ' +
      human(d.new_bytes_stored) + ' of new data stored'),
    el('div', { class: 'card' }, t));
}

// ---- targets and the 3-2-1 verdict ----
async function pageTargets() {
  const d = await api('/api/targets');
  const verdict = el('p', { class: 'verdict ' + (d.met ? 'met' : 'unmet'), id: 'verdict' },
    d.met ? '3-2-1: met' : '3-2-1: not met — need ' + d.needs);
  const facts = el('p', {}, 'copies: ' + d.copies + ' of 3 · media kinds: ' + d.media_kinds +
    ' of 2 (' + d.media.join(', ') + ') · offsite: ' + d.offsite + ' of 1');
  const t = el('table', {}, el('tr', {}, el('th', {}, 'Target'), el('th', {}, 'Media'),
    el('th', {}, 'Offsite'), el('th', {}, 'Last good copy'), el('th', {}, 'State'), el('th', {}, 'URL')));
  for (const x of d.targets) {
    const state = x.counts ? 'current' : x.current ? 'current, damaged' : x.missing + ' snapshot(s) missing';
    t.append(el('tr', { class: 'target-row' }, el('td', {}, x.name), el('td', {}, x.media),
      el('td', {}, x.offsite ? 'yes' : 'no'), el('td', {}, x.copy_time ? when(x.copy_time) : 'never'),
      el('td', {}, state + (x.fail_msg ? ' (last copy failed: ' + x.fail_msg + ')' : '')),
      el('td', {}, el('code', {}, x.url))));
  }
  show('Targets', el('div', { class: 'card' }, verdict, facts),
    el('div', { class: 'card' }, d.targets.length ? t : el('p', {}, 'No copy targets: add one with cairn target add NAME URL.')));
}

// ---- storage per app and domain ----
function sizeTable(title, rows) {
  const max = Math.max(1, ...rows.map((r) => r.bytes));
  const t = el('table', {}, el('tr', {}, el('th', {}, title), el('th', { class: 'num' }, 'Files'),
    el('th', { class: 'num' }, 'Size'), el('th', {}, '')));
  for (const r of rows) {
    const bar = el('div', { class: 'bar' });
    bar.style.width = (100 * r.bytes / max) + '%';
    t.append(el('tr', { class: 'storage-row' }, el('td', {}, r.name), el('td', { class: 'num' }, r.files),
      el('td', { class: 'num' }, human(r.bytes)), el('td', { class: 'barcell' }, bar)));
  }
  return t;
}

async function pageStorage(id) {
  if (!id) {
    const d = await api('/api/devices');
    const last = d.devices.flatMap((v) => v.chains.flatMap((c) => c.snapshots)).sort((x, y) => y.time - x.time)[0];
    if (!last) return show('Storage', el('p', {}, 'No device snapshots.'));
    id = last.id;
  }
  const d = await api('/api/storage?snapshot=' + q(id));
  const apps = new Map();
  for (const x of d.domains) {
    if (!x.app) continue;
    const a = apps.get(x.app) || { name: x.app, files: 0, bytes: 0 };
    a.files += x.files;
    a.bytes += x.bytes;
    apps.set(x.app, a);
  }
  const byBytes = (x, y) => y.bytes - x.bytes;
  const domains = d.domains.map((x) => ({ name: x.domain, files: x.files, bytes: x.bytes })).sort(byBytes);
  show('Storage of ' + short(d.snapshot),
    el('div', { class: 'card' }, el('h2', {}, 'Apps'), sizeTable('App', [...apps.values()].sort(byBytes))),
    el('div', { class: 'card' }, el('h2', {}, 'Domains'), sizeTable('Domain', domains)));
}

// ---- the router of the fragment ----
async function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [page, ...rest] = h.split('/');
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.id === 'nav-' + (page === 'browse' || !page ? 'devices' : page));
  try {
    if (page === 'browse') await pageBrowse(rest[0], rest.slice(1).map(decodeURIComponent).filter(Boolean).join('/'));
    else if (page === 'diff') await pageDiff(rest[0], rest[1]);
    else if (page === 'targets') await pageTargets();
    else if (page === 'storage') await pageStorage(rest[0]);
    else await pageDevices();
    document.body.dataset.ready = '1';
  } catch (e) {
    fail(e);
  }
}

window.addEventListener('hashchange', route);
route();
