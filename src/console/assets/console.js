// localcos web console: a browser client of the COS API.
//
// Every request is signed here with the user's SecretId/SecretKey (COS q-sign,
// sha1) and sent same-origin, path-style: `GET /` lists buckets and
// `/<bucket>/<key>` addresses objects. No private API, no framework. Web Crypto
// does the hashing where the page is a secure context; elsewhere (plain http on
// a LAN address) sha1.js does (NOTES-ON-ISSUES 15).
(function () {
  'use strict';

  var MULTIPART_THRESHOLD = 8 * 1024 * 1024;
  var PART_SIZE = 8 * 1024 * 1024;
  var PART_CONCURRENCY = 3;
  var FILE_CONCURRENCY = 2;
  var STORE = 'localcos.console.keys';

  var $ = function (id) { return document.getElementById(id); };
  var utf8 = new TextEncoder();
  var subtle = window.crypto && window.crypto.subtle;

  var state = {
    sid: '', skey: '', skew: 0,
    bucket: '', prefix: '', filter: '',
    markers: [''], page: 0, pageSize: 100, next: '',
    versioning: '',
  };

  // ---------------------------------------------------------------- signing

  function hex(u8) {
    var s = '';
    for (var i = 0; i < u8.length; i++) s += (u8[i] < 16 ? '0' : '') + u8[i].toString(16);
    return s;
  }

  function sha1Hex(str) {
    var b = utf8.encode(str);
    if (subtle) return subtle.digest('SHA-1', b).then(function (d) { return hex(new Uint8Array(d)); });
    return Promise.resolve(hex(window.LocalcosSha1.sha1(b)));
  }

  function hmacHex(key, msg) {
    var k = utf8.encode(key), m = utf8.encode(msg);
    if (subtle) {
      return subtle.importKey('raw', k, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
        .then(function (ck) { return subtle.sign('HMAC', ck, m); })
        .then(function (d) { return hex(new Uint8Array(d)); });
    }
    return Promise.resolve(hex(window.LocalcosSha1.hmacSha1(k, m)));
  }

  // COS canonical encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX.
  function camEnc(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  // The request path as sent: each segment encoded, slashes kept.
  function encPath(path) {
    return path.split('/').map(camEnc).join('/');
  }

  function queryString(query) {
    return query.map(function (p) { return p[1] === null ? camEnc(p[0]) : camEnc(p[0]) + '=' + camEnc(p[1]); }).join('&');
  }

  // q-sign authorization for `method path?query`, valid `expires` seconds.
  // `path` is the decoded path (what COS signs); no headers are signed.
  // `query` is a list of [name, value] ([name, null] for a bare flag).
  function authorization(method, path, query, expires) {
    var now = Math.floor((Date.now() + state.skew) / 1000);
    var t = (now - 60) + ';' + (now + expires);
    var params = query.map(function (p) { return [camEnc(p[0]).toLowerCase(), camEnc(p[1] || '')]; })
      .sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    var httpString = method.toLowerCase() + '\n' + path + '\n' +
      params.map(function (p) { return p[0] + '=' + p[1]; }).join('&') + '\n\n';
    return Promise.all([hmacHex(state.skey, t), sha1Hex(httpString)]).then(function (r) {
      return hmacHex(r[0], 'sha1\n' + t + '\n' + r[1] + '\n');
    }).then(function (sig) {
      return [
        ['q-sign-algorithm', 'sha1'], ['q-ak', state.sid], ['q-sign-time', t], ['q-key-time', t],
        ['q-header-list', ''], ['q-url-param-list', params.map(function (p) { return p[0]; }).join(';')],
        ['q-signature', sig],
      ];
    });
  }

  function url(path, query) {
    var qs = queryString(query);
    return encPath(path) + (qs ? '?' + qs : '');
  }

  // A pre-signed absolute URL (share links, downloads).
  function presign(path, query, expires) {
    return authorization('GET', path, query, expires).then(function (auth) {
      return location.origin + url(path, query.concat(auth));
    });
  }

  function objPath(key) { return '/' + state.bucket + '/' + key; }

  // ---------------------------------------------------------------- requests

  function noteSkew(dateHeader) {
    var d = Date.parse(dateHeader || '');
    if (!isNaN(d)) {
      var s = d - Date.now();
      state.skew = Math.abs(s) > 30000 ? s : 0;
    }
  }

  function tag(node, name) {
    for (var c = node && node.firstElementChild; c; c = c.nextElementSibling) {
      if (c.localName === name) return c.textContent;
    }
    return '';
  }

  function kids(node, name) {
    var out = [];
    for (var c = node && node.firstElementChild; c; c = c.nextElementSibling) {
      if (c.localName === name) out.push(c);
    }
    return out;
  }

  function parseXml(text) {
    var doc = new DOMParser().parseFromString(text, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length) return null;
    return doc.documentElement;
  }

  function cosError(status, text, requestId) {
    var root = text ? parseXml(text) : null;
    var code = root && root.localName === 'Error' ? tag(root, 'Code') : '';
    var msg = root && root.localName === 'Error' ? tag(root, 'Message') : '';
    var e = new Error(msg || ('The server answered ' + status));
    e.code = code || ('HTTP ' + status);
    e.status = status;
    e.requestId = (root && tag(root, 'RequestId')) || requestId || '';
    return e;
  }

  // Signed fetch. Resolves with the Response (status 2xx), rejects with a COS error.
  function cos(method, path, opts, retried) {
    opts = opts || {};
    var query = opts.query || [];
    return authorization(method, path, query, 900).then(function (auth) {
      var headers = Object.assign({}, opts.headers || {});
      headers.Authorization = auth.map(function (p) { return p[0] + '=' + p[1]; }).join('&');
      return fetch(url(path, query), {
        method: method, headers: headers, body: opts.body, cache: 'no-store', credentials: 'omit',
      }).catch(function (err) {
        var e = new Error('The request did not reach the server (' + err.message + ')');
        e.code = 'NetworkError';
        throw e;
      });
    }).then(function (res) {
      if (res.ok) return res;
      return (method === 'HEAD' ? Promise.resolve('') : res.text()).then(function (text) {
        var e = cosError(res.status, text, res.headers.get('x-cos-request-id'));
        if (e.code === 'RequestTimeTooSkewed' && !retried) {
          noteSkew(res.headers.get('Date'));
          return cos(method, path, opts, true);
        }
        throw e;
      });
    });
  }

  function cosXml(method, path, opts) {
    return cos(method, path, opts).then(function (r) { return r.text(); }).then(function (t) {
      var root = parseXml(t);
      if (!root) throw Object.assign(new Error('The server sent XML this page cannot read'), { code: 'BadResponse' });
      return root;
    });
  }

  // Signed XMLHttpRequest with upload progress (uploads only).
  function xhr(method, path, query, body, headers, onProgress, track) {
    return authorization(method, path, query, 3600).then(function (auth) {
      return new Promise(function (resolve, reject) {
        var x = new XMLHttpRequest();
        x.open(method, url(path, query));
        x.setRequestHeader('Authorization', auth.map(function (p) { return p[0] + '=' + p[1]; }).join('&'));
        Object.keys(headers || {}).forEach(function (h) { x.setRequestHeader(h, headers[h]); });
        if (onProgress) x.upload.onprogress = function (ev) { onProgress(ev.loaded); };
        x.onload = function () {
          track.delete(x);
          if (x.status >= 200 && x.status < 300) resolve(x);
          else reject(cosError(x.status, x.responseText, x.getResponseHeader('x-cos-request-id')));
        };
        x.onerror = function () {
          track.delete(x);
          reject(Object.assign(new Error('The upload did not reach the server'), { code: 'NetworkError' }));
        };
        x.onabort = function () {
          track.delete(x);
          reject(Object.assign(new Error('Cancelled'), { code: 'Cancelled' }));
        };
        track.add(x);
        x.send(body);
      });
    });
  }

  // ---------------------------------------------------------------- DOM helpers

  function h(name, attrs) {
    var el = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }

  function button(label, testid, onclick, extra) {
    return h('button', Object.assign({ type: 'button', 'data-testid': testid, text: label, onclick: onclick }, extra || {}));
  }

  function size(n) {
    n = Number(n);
    if (n < 1024) return n + ' B';
    var u = ['KiB', 'MiB', 'GiB', 'TiB'], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(n < 10 ? 1 : 0) + ' ' + u[i];
  }

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function announce(msg) {
    var s = $('status');
    s.textContent = '';
    setTimeout(function () { s.textContent = msg; }, 30);
  }

  function showError(e) {
    $('error-title').textContent = (e && e.code) || 'Error';
    var text = (e && e.message) || String(e);
    if (e && e.requestId) text += ' (request ' + e.requestId + ')';
    $('error-text').textContent = text;
    var b = $('error-banner');
    b.setAttribute('data-code', (e && e.code) || '');
    b.hidden = false;
  }

  function clearError() { $('error-banner').hidden = true; }

  // Runs a user action: clears the banner, shows failures in it.
  function run(fn) {
    clearError();
    return Promise.resolve().then(fn).catch(showError);
  }

  function show(view) {
    ['login-view', 'buckets-view', 'objects-view'].forEach(function (v) { $(v).hidden = v !== view; });
    var authed = view !== 'login-view';
    $('logout').hidden = !authed;
    $('who').hidden = !authed;
    if (view !== 'objects-view') closePanel();
  }

  // ---------------------------------------------------------------- session

  function loadKeys() {
    try {
      var k = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (k && k.sid && k.skey) { state.sid = k.sid; state.skey = k.skey; return true; }
    } catch (e) { /* no keys */ }
    return false;
  }

  function showLogin() {
    show('login-view');
    $('login-secret-id').focus();
  }

  function login(ev) {
    ev.preventDefault();
    var sid = $('login-secret-id').value.trim(), skey = $('login-secret-key').value.trim();
    state.sid = sid;
    state.skey = skey;
    $('login-submit').disabled = true;
    run(function () {
      return listBuckets().then(function (root) {
        sessionStorage.setItem(STORE, JSON.stringify({ sid: sid, skey: skey }));
        $('login-secret-key').value = '';
        whoami();
        renderBuckets(root);
        if (location.hash && location.hash !== '#/') route(); else show('buckets-view');
        announce('Signed in');
      }, function (e) {
        state.sid = state.skey = '';
        throw e;
      });
    }).then(function () { $('login-submit').disabled = false; });
  }

  function logout() {
    sessionStorage.removeItem(STORE);
    state.sid = state.skey = '';
    state.bucket = '';
    $('login-secret-key').value = '';
    $('bucket-rows').textContent = '';
    $('object-rows').textContent = '';
    $('uploads').textContent = '';
    clearError();
    history.replaceState(null, '', location.pathname);
    showLogin();
    announce('Signed out');
  }

  function whoami() {
    var w = $('who');
    w.textContent = state.sid.length > 12 ? state.sid.slice(0, 8) + '…' + state.sid.slice(-4) : state.sid;
    w.title = 'SecretId ' + state.sid + '; requests signed with ' + (subtle ? 'Web Crypto' : 'the built-in SHA-1 (no Web Crypto here)');
    w.setAttribute('data-signer', subtle ? 'webcrypto' : 'fallback');
  }

  // ---------------------------------------------------------------- routing

  // #/ = bucket list; #/b/<bucket>/<prefix> = objects.
  function go(bucket, prefix) {
    var target = bucket ? '#/b/' + camEnc(bucket) + '/' + encPath(prefix || '') : '#/';
    if (location.hash === target) route(); else location.hash = target;
  }

  function route() {
    if (!state.sid) return;
    var m = /^#\/b\/([^/]+)\/(.*)$/.exec(location.hash);
    if (!m) {
      state.bucket = '';
      run(function () { return listBuckets().then(renderBuckets).then(function () { show('buckets-view'); }); });
      return;
    }
    var bucket = decodeURIComponent(m[1]), prefix;
    try { prefix = decodeURIComponent(m[2]); } catch (e) { prefix = ''; }
    var changedBucket = bucket !== state.bucket;
    if (changedBucket || prefix !== state.prefix) {
      state.filter = '';
      $('object-filter').value = '';
      closePanel();
    }
    state.bucket = bucket;
    state.prefix = prefix;
    state.markers = [''];
    state.page = 0;
    show('objects-view');
    renderCrumbs();
    run(function () {
      var p = listObjects();
      if (changedBucket) p = p.then(loadVersioning);
      return p;
    });
  }

  function renderCrumbs() {
    var nav = $('crumbs');
    nav.textContent = '';
    var ol = h('ol');
    ol.appendChild(h('li', null, h('a', { href: '#/', 'data-testid': 'crumb-buckets', text: 'Buckets' })));
    var parts = state.prefix.split('/').slice(0, -1), acc = '';
    var items = [{ label: state.bucket, prefix: '' }];
    parts.forEach(function (p) { acc += p + '/'; items.push({ label: p || '(empty)', prefix: acc }); });
    items.forEach(function (it, i) {
      var last = i === items.length - 1;
      var a = h('a', {
        href: '#/b/' + camEnc(state.bucket) + '/' + encPath(it.prefix), 'data-testid': 'crumb',
        'data-prefix': it.prefix, 'aria-current': last ? 'page' : null, text: it.label,
      });
      ol.appendChild(h('li', null, a));
    });
    nav.appendChild(ol);
  }

  // ---------------------------------------------------------------- buckets

  function listBuckets() {
    return cosXml('GET', '/');
  }

  function renderBuckets(root) {
    var tbody = $('bucket-rows');
    tbody.textContent = '';
    var buckets = kids(kids(root, 'Buckets')[0], 'Bucket');
    var appid = '';
    buckets.forEach(function (b) {
      var name = tag(b, 'Name');
      var m = /-(\d+)$/.exec(name);
      if (m) appid = m[1];
      tbody.appendChild(h('tr', { 'data-testid': 'bucket-row', 'data-bucket': name },
        h('td', null, h('a', { href: '#/b/' + camEnc(name) + '/', text: name })),
        h('td', { class: 'wide', text: tag(b, 'Location') }),
        h('td', { class: 'wide', text: when(tag(b, 'CreationDate')) }),
        h('td', { class: 'actions' }, button('Delete', 'bucket-delete', function () { deleteBucket(name); },
          { 'aria-label': 'Delete bucket ' + name, class: 'danger' }))));
    });
    $('bucket-empty').hidden = buckets.length > 0;
    $('bucket-hint').textContent = appid
      ? 'A name without a -<appid> suffix gets this server\'s APPID (e.g. name-' + appid + ').'
      : 'A name without a -<appid> suffix gets this server\'s APPID.';
  }

  function createBucket(ev) {
    ev.preventDefault();
    var name = $('bucket-create-name').value.trim();
    run(function () {
      return cos('PUT', '/' + name).then(function () {
        $('bucket-create-name').value = '';
        announce('Bucket ' + name + ' created');
        return listBuckets().then(renderBuckets);
      });
    });
  }

  function deleteBucket(name) {
    if (!window.confirm('Delete bucket ' + name + '? It must be empty.')) return;
    run(function () {
      return cos('DELETE', '/' + name).then(function () {
        announce('Bucket ' + name + ' deleted');
        return listBuckets().then(renderBuckets);
      });
    });
  }

  // ---------------------------------------------------------------- objects

  function listObjects() {
    var query = [['delimiter', '/'], ['max-keys', String(state.pageSize)], ['prefix', state.prefix + state.filter]];
    var marker = state.markers[state.page];
    if (marker) query.push(['marker', marker]);
    var bucket = state.bucket;
    return cosXml('GET', '/' + bucket, { query: query }).then(function (root) {
      if (bucket !== state.bucket) return;
      renderObjects(root);
    });
  }

  function renderObjects(root) {
    var tbody = $('object-rows');
    tbody.textContent = '';
    var prefixes = kids(root, 'CommonPrefixes').map(function (c) { return tag(c, 'Prefix'); });
    var contents = kids(root, 'Contents');
    var last = '';
    prefixes.forEach(function (p) {
      if (p > last) last = p;
      var name = p.slice(state.prefix.length);
      var open = function () { go(state.bucket, p); };
      tbody.appendChild(h('tr', {
        'data-testid': 'prefix-row', 'data-prefix': p, class: 'folder',
        onclick: function (ev) { if (ev.target.localName !== 'a') open(); },
      },
      h('td', null, h('a', { href: '#/b/' + camEnc(state.bucket) + '/' + encPath(p), class: 'icon-folder', text: name })),
      h('td', { class: 'num', text: '' }), h('td', { class: 'wide' }), h('td')));
    });
    var shown = 0;
    contents.forEach(function (c) {
      var key = tag(c, 'Key');
      if (key > last) last = key;
      if (key === state.prefix && !state.filter) return; // the folder's own marker object
      shown++;
      var name = key.slice(state.prefix.length);
      tbody.appendChild(h('tr', { 'data-testid': 'object-row', 'data-key': key },
        h('td', { class: 'name' }, h('button', {
          type: 'button', class: 'link icon-file', 'data-testid': 'object-details', text: name,
          'aria-label': 'Details of ' + name, onclick: function () { details(key); },
        })),
        h('td', { class: 'num', text: size(tag(c, 'Size')) }),
        h('td', { class: 'wide', text: when(tag(c, 'LastModified')) }),
        h('td', { class: 'actions' },
          button('Download', 'object-download', function () { download(key, null); }, { 'aria-label': 'Download ' + name }),
          button('Share', 'object-share', function () { share(key); }, { 'aria-label': 'Share ' + name }),
          button('Versions', 'object-versions', function () { versions(key); }, { 'aria-label': 'Versions of ' + name }),
          button('Delete', 'object-delete', function () { deleteObject(key); }, { 'aria-label': 'Delete ' + name, class: 'danger' }))));
    });
    $('object-empty').hidden = prefixes.length + shown > 0;
    var truncated = tag(root, 'IsTruncated') === 'true';
    state.next = truncated ? (tag(root, 'NextMarker') || last) : '';
    $('page-next').disabled = !state.next;
    $('page-prev').disabled = state.page === 0;
    $('page-info').textContent = 'Page ' + (state.page + 1) + ' · ' + (prefixes.length + shown) + ' item' +
      (prefixes.length + shown === 1 ? '' : 's') + (truncated ? ' · more' : '');
  }

  function page(delta) {
    run(function () {
      if (delta > 0) {
        if (!state.next) return null;
        state.markers[state.page + 1] = state.next;
        state.page++;
      } else {
        if (state.page === 0) return null;
        state.page--;
      }
      return listObjects();
    });
  }

  function refresh() { return run(listObjects); }

  function deleteObject(key) {
    var note = state.versioning === 'Enabled' ? ' Versioning is on: this adds a delete marker, older versions stay.' : '';
    if (!window.confirm('Delete ' + key + '?' + note)) return;
    run(function () {
      return cos('DELETE', objPath(key)).then(function () {
        announce(key + ' deleted');
        if (panelKey === key && panelKind !== 'versions') closePanel();
        return listObjects().then(function () { if (panelKey === key && panelKind === 'versions') return versions(key); });
      });
    });
  }

  function createFolder(ev) {
    ev.preventDefault();
    var name = $('folder-name').value.trim().replace(/^\/+|\/+$/g, '');
    if (!name) return;
    run(function () {
      return cos('PUT', objPath(state.prefix + name + '/'), { body: '' }).then(function () {
        $('folder-name').value = '';
        announce('Folder ' + name + ' created');
        return listObjects();
      });
    });
  }

  function filter(ev) {
    ev.preventDefault();
    state.filter = $('object-filter').value;
    state.markers = [''];
    state.page = 0;
    run(listObjects);
  }

  function downloadQuery(key, versionId) {
    var base = key.split('/').pop() || 'download';
    var q = [['response-content-disposition', "attachment; filename*=UTF-8''" + camEnc(base)]];
    if (versionId) q.push(['versionId', versionId]);
    return q;
  }

  function download(key, versionId) {
    run(function () {
      return presign(objPath(key), downloadQuery(key, versionId), 900).then(function (href) {
        var a = h('a', { href: href, download: key.split('/').pop() || 'download', hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        announce('Downloading ' + key);
      });
    });
  }

  // ---------------------------------------------------------------- versioning

  function loadVersioning() {
    var bucket = state.bucket, t = $('versioning-toggle');
    t.disabled = true;
    return cosXml('GET', '/' + bucket, { query: [['versioning', null]] }).then(function (root) {
      if (bucket !== state.bucket) return;
      setVersioning(tag(root, 'Status'));
    }).finally(function () { t.disabled = false; });
  }

  function setVersioning(status) {
    state.versioning = status;
    var t = $('versioning-toggle');
    t.checked = status === 'Enabled';
    t.setAttribute('data-status', status || 'Off');
    $('versioning-state').textContent = status === 'Enabled' ? 'on' : status === 'Suspended' ? 'suspended' : 'off';
  }

  function toggleVersioning() {
    var t = $('versioning-toggle');
    var want = t.checked ? 'Enabled' : 'Suspended';
    t.disabled = true;
    run(function () {
      var body = '<VersioningConfiguration><Status>' + want + '</Status></VersioningConfiguration>';
      return cos('PUT', '/' + state.bucket, { query: [['versioning', null]], body: body, headers: { 'Content-Type': 'application/xml' } })
        .then(function () { setVersioning(want); announce('Versioning ' + (want === 'Enabled' ? 'on' : 'suspended')); },
          function (e) { setVersioning(state.versioning); throw e; });
    }).then(function () { t.disabled = false; });
  }

  // ---------------------------------------------------------------- side panel

  var panelKey = null, panelKind = null, panelReturn = null;

  function openPanel(kind, key, title) {
    var p = $('panel');
    if (p.hidden) panelReturn = document.activeElement;
    panelKind = kind;
    panelKey = key;
    $('panel-h').textContent = title;
    $('panel-body').textContent = '';
    p.setAttribute('data-kind', kind);
    p.hidden = false;
    document.body.classList.add('with-panel');
    $('panel-close').focus();
    return $('panel-body');
  }

  function closePanel() {
    var p = $('panel');
    if (p.hidden) return;
    p.hidden = true;
    panelKey = panelKind = null;
    document.body.classList.remove('with-panel');
    if (panelReturn && document.contains(panelReturn)) panelReturn.focus();
    panelReturn = null;
  }

  function details(key) {
    var body = openPanel('details', key, key.split('/').pop() || key);
    run(function () {
      return cos('HEAD', objPath(key)).then(function (res) {
        if (panelKey !== key) return;
        var g = function (n) { return res.headers.get(n) || ''; };
        var rows = [
          ['Key', key],
          ['Size', g('Content-Length') ? size(g('Content-Length')) + ' (' + g('Content-Length') + ' bytes)' : ''],
          ['Type', g('Content-Type')],
          ['Last modified', g('Last-Modified')],
          ['ETag', g('ETag')],
          ['CRC64', g('x-cos-hash-crc64ecma')],
          ['Storage class', g('x-cos-storage-class') || 'STANDARD'],
          ['Version', g('x-cos-version-id')],
        ];
        var meta = [];
        res.headers.forEach(function (v, n) { if (/^x-cos-meta-/i.test(n)) meta.push([n.toLowerCase(), v]); });
        meta.sort();
        var dl = h('dl', { 'data-testid': 'object-info', class: 'info' });
        rows.concat(meta).forEach(function (r) {
          if (!r[1]) return;
          dl.appendChild(h('dt', { text: r[0] }));
          dl.appendChild(h('dd', { text: r[1], 'data-field': r[0] }));
        });
        body.appendChild(dl);
        body.appendChild(h('div', { class: 'row' },
          button('Download', 'details-download', function () { download(key, null); }),
          button('Share link', 'details-share', function () { share(key); })));
      });
    });
  }

  var EXPIRIES = [[900, '15 minutes'], [3600, '1 hour'], [86400, '1 day'], [604800, '7 days']];

  function share(key) {
    var body = openPanel('share', key, 'Share ' + (key.split('/').pop() || key));
    var sel = h('select', { id: 'share-expiry', 'data-testid': 'share-expiry' });
    EXPIRIES.forEach(function (e) { sel.appendChild(h('option', { value: e[0], text: e[1], selected: e[0] === 3600 })); });
    var out = h('input', { id: 'share-url', 'data-testid': 'share-url', readonly: true, class: 'url', 'aria-label': 'Share link' });
    var copied = h('span', { class: 'muted', 'aria-live': 'polite' });
    var make = function () {
      out.value = '';
      return run(function () {
        return presign(objPath(key), [], Number(sel.value)).then(function (u) {
          out.value = u;
          out.setAttribute('data-expires', sel.value);
        });
      });
    };
    var copy = function () {
      out.select();
      var done = function () { copied.textContent = 'Copied'; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(out.value).then(done, function () { document.execCommand('copy'); done(); });
      } else {
        document.execCommand('copy');
        done();
      }
    };
    sel.addEventListener('change', make);
    body.appendChild(h('p', { class: 'hint', text: 'Anyone with this link can download the object until it expires. It is signed with your key.' }));
    body.appendChild(h('label', { for: 'share-expiry', text: 'Expires after' }));
    body.appendChild(sel);
    body.appendChild(out);
    body.appendChild(h('div', { class: 'row' }, button('Copy link', 'share-copy', copy, { class: 'primary' }), copied));
    make();
  }

  function versions(key) {
    var body = openPanel('versions', key, 'Versions of ' + (key.split('/').pop() || key));
    var list = h('ul', { class: 'versions', 'data-testid': 'version-list' });
    body.appendChild(list);
    var all = [];
    var fetchPage = function (keyMarker, vidMarker) {
      var q = [['versions', null], ['prefix', key], ['max-keys', '1000']];
      if (keyMarker) { q.push(['key-marker', keyMarker]); q.push(['version-id-marker', vidMarker]); }
      return cosXml('GET', '/' + state.bucket, { query: q }).then(function (root) {
        var past = false;
        for (var c = root.firstElementChild; c; c = c.nextElementSibling) {
          if (c.localName !== 'Version' && c.localName !== 'DeleteMarker') continue;
          var k = tag(c, 'Key');
          if (k > key) past = true;
          if (k !== key) continue;
          all.push({
            id: tag(c, 'VersionId'), latest: tag(c, 'IsLatest') === 'true', marker: c.localName === 'DeleteMarker',
            size: tag(c, 'Size'), modified: tag(c, 'LastModified'), etag: tag(c, 'ETag'),
          });
        }
        if (!past && tag(root, 'IsTruncated') === 'true' && all.length < 10000) {
          return fetchPage(tag(root, 'NextKeyMarker'), tag(root, 'NextVersionIdMarker'));
        }
        return null;
      });
    };
    return run(function () {
      return fetchPage('', '').then(function () {
        if (panelKey !== key || panelKind !== 'versions') return;
        if (!all.length) list.appendChild(h('li', { class: 'empty', text: 'No versions.' }));
        all.forEach(function (v) {
          var label = v.id === 'null' ? 'null (before versioning)' : v.id;
          list.appendChild(h('li', { 'data-testid': 'version-row', 'data-version-id': v.id, class: v.marker ? 'marker' : '' },
            h('div', { class: 'vid' }, h('code', { text: label }), v.latest ? h('span', { class: 'badge', text: 'latest' }) : null,
              v.marker ? h('span', { class: 'badge warn', text: 'delete marker' }) : null),
            h('div', { class: 'muted', text: (v.marker ? '' : size(v.size) + ' · ') + when(v.modified) }),
            h('div', { class: 'row' },
              v.marker ? null : button('Download', 'version-download', function () { download(key, v.id); },
                { 'aria-label': 'Download version ' + label }),
              button('Delete', 'version-delete', function () { deleteVersion(key, v.id); },
                { 'aria-label': 'Delete version ' + label, class: 'danger' }))));
        });
        announce(all.length + ' version' + (all.length === 1 ? '' : 's'));
      });
    });
  }

  function deleteVersion(key, id) {
    if (!window.confirm('Delete version ' + id + ' of ' + key + ' for good?')) return;
    run(function () {
      return cos('DELETE', objPath(key), { query: [['versionId', id]] }).then(function () {
        announce('Version deleted');
        return listObjects().then(function () { return versions(key); });
      });
    });
  }

  // ---------------------------------------------------------------- uploads

  var queue = [], active = 0, refreshTimer = null;

  function addUploads(files) {
    if (!state.bucket) return;
    Array.prototype.forEach.call(files, function (f) {
      var key = state.prefix + (f.webkitRelativePath || f.name);
      var prog = h('progress', { 'data-testid': 'upload-progress', 'data-key': key, max: f.size || 1, value: 0, 'aria-label': 'Upload of ' + f.name });
      var note = h('span', { class: 'muted', text: 'waiting' });
      var item = { file: f, key: key, bucket: state.bucket, prog: prog, note: note, xhrs: new Set(), cancelled: false };
      var cancel = button('Cancel', 'upload-cancel', function () {
        item.cancelled = true;
        item.xhrs.forEach(function (x) { x.abort(); });
      }, { 'aria-label': 'Cancel upload of ' + f.name, class: 'small' });
      item.cancel = cancel;
      item.li = h('li', { 'data-testid': 'upload-item', 'data-key': key },
        h('span', { class: 'uname', text: key }), prog, note, cancel);
      $('uploads').appendChild(item.li);
      queue.push(item);
    });
    pump();
  }

  function pump() {
    while (active < FILE_CONCURRENCY && queue.length) {
      var item = queue.shift();
      active++;
      upload(item).then(function (it) {
        it.prog.value = it.prog.max;
        it.note.textContent = 'done';
        it.li.setAttribute('data-state', 'done');
        announce('Uploaded ' + it.key);
      }, function (e) {
        var it = e.item;
        it.li.setAttribute('data-state', 'failed');
        it.note.textContent = e.code === 'Cancelled' ? 'cancelled' : 'failed: ' + (e.code || '') + ' ' + e.message;
        if (e.code !== 'Cancelled') showError(e);
      }).then(function () {
        active--;
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(function () { if (state.bucket) refresh(); }, 200);
        pump();
      });
      item.li.setAttribute('data-state', 'running');
    }
  }

  function upload(item) {
    var f = item.file;
    var path = '/' + item.bucket + '/' + item.key;
    var type = f.type || 'application/octet-stream';
    item.note.textContent = 'uploading';
    var p;
    if (f.size <= MULTIPART_THRESHOLD) {
      p = xhr('PUT', path, [], f, { 'Content-Type': type }, function (n) { item.prog.value = n; }, item.xhrs);
    } else {
      p = multipart(item, path, type);
    }
    return p.then(function () {
      item.cancel.remove();
      return item;
    }, function (e) {
      item.cancel.remove();
      e.item = item;
      throw e;
    });
  }

  function multipart(item, path, type) {
    var f = item.file;
    var partSize = Math.max(PART_SIZE, Math.ceil(f.size / 10000));
    var count = Math.ceil(f.size / partSize);
    var loaded = new Array(count).fill(0), etags = new Array(count), uploadId;
    var progress = function () { item.prog.value = loaded.reduce(function (a, b) { return a + b; }, 0); };
    return cosXml('POST', path, { query: [['uploads', null]], headers: { 'Content-Type': type } }).then(function (root) {
      uploadId = tag(root, 'UploadId');
      item.note.textContent = 'uploading ' + count + ' parts';
      var next = 0;
      var worker = function () {
        if (item.cancelled) return Promise.reject(Object.assign(new Error('Cancelled'), { code: 'Cancelled' }));
        if (next >= count) return Promise.resolve();
        var i = next++;
        var blob = f.slice(i * partSize, Math.min(f.size, (i + 1) * partSize));
        return xhr('PUT', path, [['partNumber', String(i + 1)], ['uploadId', uploadId]], blob, {},
          function (n) { loaded[i] = n; progress(); }, item.xhrs).then(function (x) {
          etags[i] = x.getResponseHeader('ETag');
          loaded[i] = blob.size;
          progress();
          return worker();
        });
      };
      var workers = [];
      for (var w = 0; w < Math.min(PART_CONCURRENCY, count); w++) workers.push(worker());
      return Promise.all(workers);
    }).then(function () {
      var xml = '<CompleteMultipartUpload>' + etags.map(function (e, i) {
        return '<Part><PartNumber>' + (i + 1) + '</PartNumber><ETag>' + e + '</ETag></Part>';
      }).join('') + '</CompleteMultipartUpload>';
      return cosXml('POST', path, { query: [['uploadId', uploadId]], body: xml, headers: { 'Content-Type': 'application/xml' } });
    }).catch(function (e) {
      if (uploadId) cos('DELETE', path, { query: [['uploadId', uploadId]] }).catch(function () {});
      throw e;
    });
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('error-close').addEventListener('click', clearError);
    $('bucket-create').addEventListener('submit', createBucket);
    $('filter-form').addEventListener('submit', filter);
    $('folder-form').addEventListener('submit', createFolder);
    $('refresh').addEventListener('click', refresh);
    $('page-next').addEventListener('click', function () { page(1); });
    $('page-prev').addEventListener('click', function () { page(-1); });
    $('page-size').addEventListener('change', function () {
      state.pageSize = Number(this.value);
      state.markers = [''];
      state.page = 0;
      refresh();
    });
    $('versioning-toggle').addEventListener('change', toggleVersioning);
    $('panel-close').addEventListener('click', closePanel);
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closePanel(); });
    var input = $('upload-input');
    input.addEventListener('change', function () { addUploads(input.files); input.value = ''; });
    var drop = $('objects-view');
    ['dragenter', 'dragover'].forEach(function (n) {
      drop.addEventListener(n, function (ev) {
        if (ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types, 'Files') >= 0) {
          ev.preventDefault();
          $('drop').classList.add('over');
        }
      });
    });
    drop.addEventListener('dragleave', function (ev) { if (ev.target === drop || !drop.contains(ev.relatedTarget)) $('drop').classList.remove('over'); });
    drop.addEventListener('drop', function (ev) {
      ev.preventDefault();
      $('drop').classList.remove('over');
      if (ev.dataTransfer && ev.dataTransfer.files.length) addUploads(ev.dataTransfer.files);
    });
    window.addEventListener('hashchange', route);
    if (loadKeys()) {
      whoami();
      show(location.hash.indexOf('#/b/') === 0 ? 'objects-view' : 'buckets-view');
      route();
    } else {
      showLogin();
    }
  }

  init();
})();
