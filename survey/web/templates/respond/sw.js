// The kiosk's service worker (survey.web.respond.kiosk_app): the kiosk pages and their
// files stay usable without a connection. Pages: network first (fresh questionnaire and
// services when online), the last copy when offline. Files: from this release's cache.
// Sending answers is kiosk.js's work (IndexedDB and the sync endpoint), never cached here.
"use strict";
var VERSION = {{ version|tojson }};
var ASSETS = {{ assets|tojson }};
var FILES = "skm-kiosk-files-" + VERSION;
var PAGES = "skm-kiosk-pages";
var PAGE = /^\/k\/[^/]+$/;
var NETWORK_SECONDS = 6; // a page slower than this on a failing link comes from the copy

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(FILES).then(function (cache) {
    return cache.addAll(ASSETS);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf("skm-kiosk-files-") === 0 && key !== FILES;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromNetwork(request) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); },
                           NETWORK_SECONDS * 1000);
    fetch(request).then(function (response) {
      clearTimeout(timer);
      resolve(response);
    }, function (error) {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function page(request) {
  return caches.open(PAGES).then(function (cache) {
    return fromNetwork(request).then(function (response) {
      if (response.status === 200 && response.type === "basic") {
        cache.put(request.url, response.clone());
      }
      return response;
    }, function (error) {
      return cache.match(request.url).then(function (hit) {
        return hit || cache.match(request.url, { ignoreSearch: true });
      }).then(function (hit) {
        if (hit) return hit;
        throw error;
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && PAGE.test(url.pathname)) {
    event.respondWith(page(request));
  } else if (ASSETS.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(url.pathname).then(function (hit) {
      return hit || fetch(request);
    }));
  }
});
