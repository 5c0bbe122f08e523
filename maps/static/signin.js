/* The sign-in page of the inspector and PCC maps. A map page needs a key, and a browser
   cannot send a header when it opens a page, so this page asks for the key once, keeps
   it in sessionStorage (this tab only; gone when the tab closes), and fetches the map
   page with it as X-API-Key; the map then fetches its figures the same way. A key in
   the address is accepted only after "#" (#key=…): a fragment is never sent to a
   server, so it never reaches an access log, and it is removed from the address and
   the history at once. */
(function () {
  "use strict";
  var KEY = "beatlight-key";

  function stored() {
    try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }
  function store(key) {
    try { window.sessionStorage.setItem(KEY, key); } catch (e) { /* storage off */ }
  }
  function forget() {
    try { window.sessionStorage.removeItem(KEY); } catch (e) { /* storage off */ }
  }
  function say(text) { document.getElementById("beatlight-signin-message").textContent = text; }

  function open(key) {
    say("Opening the map…");
    fetch(window.location.pathname + window.location.search, {
      headers: { "X-API-Key": key, Accept: "text/html" }, cache: "no-store", credentials: "omit",
    }).then(function (response) {
      if (response.ok) {
        return response.text().then(function (html) {
          store(key);
          document.open();
          document.write(html);
          document.close();
        });
      }
      if (response.status === 401 || response.status === 403) forget();
      return response.json().catch(function () { return {}; }).then(function (body) {
        var detail = body.detail ? body.detail + "." : "Beatlight answered " + response.status + ".";
        say(detail.charAt(0).toUpperCase() + detail.slice(1));
      });
    }).catch(function (error) { say("Cannot reach Beatlight: " + error.message); });
  }

  var fragment = /(?:^#|&)key=([^&]+)/.exec(window.location.hash);
  if (fragment) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    open(decodeURIComponent(fragment[1]));
  } else if (stored()) {
    open(stored());
  }
  document.getElementById("beatlight-signin").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = document.getElementById("beatlight-key");
    var key = field.value.trim();
    field.value = "";
    if (key) open(key);
  });
})();
