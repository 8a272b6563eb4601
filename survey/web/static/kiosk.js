// The kiosk app (survey.web.respond.kiosk_app). Where the browser can work offline
// (service worker, IndexedDB) this takes over the server-rendered kiosk form: each
// response is kept on the tablet with its own key and capture time, then sent in batches
// to the sync endpoint; only the ones the server acknowledged are removed. A refused one
// stays, with the server's reason, until staff remove it. Without those features the
// form posts to the kiosk address as before.
(function () {
  "use strict";
  var configNode = document.getElementById("kiosk-config");
  var form = document.getElementById("survey");
  if (!configNode || !("serviceWorker" in navigator) || !window.indexedDB) return;
  var cfg = JSON.parse(configNode.textContent);
  if (!form && !cfg.revoked) return;
  var text = cfg.strings;
  var $ = function (id) { return document.getElementById(id); };
  var start = $("kiosk-start"), thanks = $("kiosk-thanks"), bar = $("kiosk-bar");
  var statusLine = $("kiosk-status"), detailsButton = $("kiosk-open-details");
  var dialog = $("kiosk-details");
  var DB = "skm-kiosk", STORE = "responses", PAGES = "skm-kiosk-pages";
  var PROFILE = ["sex", "age", "education", "occupation"];
  var NOT_STATED = "-";

  document.body.classList.add("kiosk-app");
  navigator.serviceWorker.register(cfg.worker, { scope: cfg.scope }).catch(function () {});
  if (window.caches && navigator.onLine) {  // both languages open without a connection
    caches.open(PAGES).then(function (cache) { return cache.addAll(cfg.pages); })
      .catch(function () {});
  }
  // The language switch stays on the kiosk (and works from the cached copies).
  var links = document.querySelectorAll(".lang a[hreflang]");
  for (var i = 0; i < links.length; i++) {
    var code = links[i].getAttribute("hreflang");
    links[i].href = cfg.pages[code === cfg.lang ? 0 : 1];
  }

  // --- the queue on the tablet (IndexedDB) -----------------------------------------
  var opening = null;
  function database() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB, 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(STORE, { keyPath: "key" });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opening;
  }
  function transact(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && result.result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function mine() {  // this desk's kept responses, oldest first
    return transact("readonly", function (store) { return store.getAll(); })
      .then(function (all) {
        return all.filter(function (r) { return r.slug === cfg.slug; })
          .sort(function (a, b) { return a.seq - b.seq; });
      });
  }

  function newKey() {
    var bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function capture() {
    var data = new FormData(form);
    var answers = {};
    var groups = form.querySelectorAll("fieldset.q input[type=radio]:checked");
    for (var i = 0; i < groups.length; i++) answers[groups[i].name] = Number(groups[i].value);
    var item = {
      key: newKey(), slug: cfg.slug, seq: Date.now(), state: "waiting",
      captured_at: new Date().toISOString(), answers: answers,
      service: data.get("service") ? Number(data.get("service")) : null,
      comment: (data.get("comment") || "").trim() || null
    };
    PROFILE.forEach(function (name) {
      var value = data.get(name);
      item[name] = value && value !== NOT_STATED ? value : null;
    });
    return item;
  }

  function isLow(answers) {  // the same rule as survey.core.citizen.is_low
    var scores = Object.keys(answers).map(function (k) { return answers[k]; });
    if (!scores.length) return false;
    var sum = scores.reduce(function (a, b) { return a + b; }, 0);
    return Math.min.apply(null, scores) === 1 || sum / scores.length < 2.5;
  }

  // --- staff details ----------------------------------------------------------------
  var sending = false, blocked = null;
  detailsButton.addEventListener("click", function () {
    refresh();
    dialog.showModal();
  });
  $("kiosk-close").addEventListener("click", function () { dialog.close(); });
  $("kiosk-discard").addEventListener("click", function () {
    if (!window.confirm(text.discard_confirm)) return;
    mine().then(function (kept) {
      return transact("readwrite", function (store) {
        kept.forEach(function (r) { if (r.state === "refused") store.delete(r.key); });
      });
    }).then(refresh);
  });

  if (cfg.revoked) {  // takes no answers; says what still waits on the tablet
    bar.hidden = false;
    $("kiosk-send-now").hidden = true;
    refresh().then(function (state) {
      $("kiosk-kept").textContent = state.waiting.length + state.refused.length;
    });
    return;
  }

  // --- screens ----------------------------------------------------------------------
  var idleTimer = null, thanksTimer = null;
  function show(screen) {
    start.hidden = screen !== "start";
    thanks.hidden = screen !== "thanks";
    form.hidden = screen !== "form";
    var others = document.querySelectorAll("main > .unit, main > h1, main > .intro, #errors");
    for (var i = 0; i < others.length; i++) others[i].hidden = screen !== "form";
    clearTimeout(idleTimer);
    clearInterval(thanksTimer);
    window.scrollTo(0, 0);
    if (screen === "form") touch();
  }
  function toStart() {
    form.reset();
    form.dispatchEvent(new Event("change"));
    if (cfg.lang !== new URL(cfg.start, location.href).searchParams.get("lang")) {
      location.assign(cfg.start);  // the next citizen starts in the default language
      return;
    }
    show("start");
    $("kiosk-go").focus();
  }
  function touch() {  // an unfinished form goes back to the start when nobody uses it
    clearTimeout(idleTimer);
    if (!form.hidden) idleTimer = setTimeout(toStart, cfg.idle * 1000);
  }
  ["pointerdown", "keydown", "input", "change", "scroll"].forEach(function (type) {
    document.addEventListener(type, touch, { passive: true, capture: true });
  });

  $("kiosk-go").addEventListener("click", function () {
    var root = document.documentElement;
    if (!document.fullscreenElement && root.requestFullscreen) {
      root.requestFullscreen().catch(function () {});
    }
    show("form");
    var first = form.querySelector("fieldset.q legend");
    if (first) first.scrollIntoView();
  });
  $("kiosk-done").addEventListener("click", toStart);

  function thank(low) {
    show("thanks");
    $("kiosk-lapor").hidden = !low;
    thanks.focus();
    var left = cfg.thanks, line = $("kiosk-countdown");
    var template = line.getAttribute("data-template");
    line.textContent = template.replace("{n}", left);
    thanksTimer = setInterval(function () {
      left -= 1;
      line.textContent = template.replace("{n}", Math.max(left, 0));
      if (left <= 0) toStart();
    }, 1000);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();  // the browser checked the required answers before this
    var item = capture();
    transact("readwrite", function (store) { store.add(item); }).then(function () {
      thank(isLow(item.answers));
      form.reset();
      form.dispatchEvent(new Event("change"));
      refresh();
      sync();
    }, function () {
      statusLine.textContent = text.not_saved;
      bar.classList.add("problem");
    });
  });

  // --- sending ----------------------------------------------------------------------
  var retry = null, failures = 0;
  var STOPS = [401, 403, 404, 410];
  function refresh() {
    return mine().then(function (kept) {
      var waiting = kept.filter(function (r) { return r.state === "waiting"; });
      var refused = kept.filter(function (r) { return r.state === "refused"; });
      var parts = [navigator.onLine ? text.online : text.offline];
      if (sending) parts.push(text.sending);
      parts.push(waiting.length ? text.waiting.replace("{n}", waiting.length) : text.all_sent);
      if (refused.length) parts.push(text.refused.replace("{n}", refused.length));
      if (blocked) parts.push(text.blocked);
      statusLine.textContent = parts.join(" · ");
      bar.classList.toggle("problem", Boolean(refused.length || blocked));
      detailsButton.hidden = !(refused.length || blocked || waiting.length);
      $("kiosk-discard").hidden = !refused.length;
      $("kiosk-refused-box").hidden = !refused.length;
      var rows = $("kiosk-refused");
      rows.textContent = "";
      refused.forEach(function (r) {
        var tr = document.createElement("tr");
        [new Date(r.captured_at).toLocaleString(cfg.lang === "id" ? "id-ID" : "en-GB"),
         r.reason].forEach(function (value) {
          var td = document.createElement("td");
          td.textContent = value;
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
      var notice = $("kiosk-blocked");
      notice.hidden = !blocked;
      notice.textContent = blocked || "";
      return { waiting: waiting, refused: refused };
    });
  }

  function payload(r) {
    var out = { key: r.key, captured_at: r.captured_at, answers: r.answers,
                service: r.service, comment: r.comment };
    PROFILE.forEach(function (name) { out[name] = r[name]; });
    return out;
  }

  function later(seconds) {
    clearTimeout(retry);
    retry = setTimeout(sync, seconds * 1000);
  }

  // One pass: send waiting responses batch by batch until none is left or one fails. An
  // empty pass still reports to the server (the staff see when the tablet last called).
  function sync() {
    if (sending) return Promise.resolve();
    sending = true;
    return refresh().then(function pass(state) {
      var batch = state.waiting.slice(0, cfg.batch);
      return fetch(cfg.sync, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({
          // what the tablet still holds once this batch is acknowledged (staff see it)
          lang: cfg.lang, sent_at: new Date().toISOString(),
          waiting: state.waiting.length - batch.length,
          refused: state.refused.length, responses: batch.map(payload)
        })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            // Not enrolled, revoked, desk closed: it stops until staff act, and they see
            // why. Anything else (busy, database down) is tried again later by itself.
            // Either way nothing is removed from the tablet.
            if (STOPS.indexOf(response.status) !== -1) {
              blocked = body.message || (response.status + " " + response.statusText);
            }
            throw new Error("not sent: " + response.status);
          }
          blocked = null;
          var byKey = {};
          batch.forEach(function (r) { byKey[r.key] = r; });
          return transact("readwrite", function (store) {
            (body.results || []).forEach(function (result) {
              var kept = byKey[result.key];
              if (!kept) return;
              if (result.status === "stored" || result.status === "duplicate") {
                store.delete(result.key);
              } else if (result.status === "refused") {
                kept.state = "refused";
                kept.reason = result.reason;
                kept.code = result.code;
                store.put(kept);
              }
            });
          });
        });
      }).then(function () {
        failures = 0;
        return refresh().then(function (next) {
          if (batch.length && next.waiting.length) return pass(next);
        });
      });
    }).catch(function () {
      failures += 1;  // offline, a cut connection or a refusal: try again later
    }).then(function () {
      sending = false;
      refresh();
      later(failures ? Math.min(60, 5 * failures) : 60);
    });
  }

  window.addEventListener("online", function () { failures = 0; sync(); });
  window.addEventListener("offline", refresh);
  $("kiosk-send-now").addEventListener("click", function () { failures = 0; sync(); });

  bar.hidden = false;
  if ($("errors")) show("form"); else show("start");
  sync();
})();
