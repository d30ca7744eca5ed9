// The integrations page's one script. It calls the same /v1 API as any client, with the page's
// cookie and its CSRF token; the server renders every page, this script adds search, the connect
// flows and the account actions. Messages to a parent window go to each allowed origin by name,
// never to "*".
(function () {
  "use strict";

  var dataEl = document.getElementById("sb-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : { messages: {}, parents: [] };
  var csrfEl = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfEl ? csrfEl.getAttribute("content") : "";

  function t(key, values) {
    var s = (data.messages && data.messages[key]) || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(values[k]); });
    return s;
  }

  // --- Telling the window that embeds or opened this page -------------------------------------------
  var parentWindow = window.parent !== window ? window.parent : window.opener || null;
  function tellParent(message) {
    if (!parentWindow) return;
    (data.parents || []).forEach(function (origin) {
      try { parentWindow.postMessage(Object.assign({ source: "switchboard" }, message), origin); } catch (e) { /* closed */ }
    });
  }

  // --- Flash messages that survive a reload ----------------------------------------------------------
  function toast(text) {
    var el = document.getElementById("toast");
    if (el) el.textContent = text;
  }
  function reloadWith(text) {
    try { sessionStorage.setItem("sb-flash", text); } catch (e) { /* storage off */ }
    location.reload();
  }
  try {
    var flash = sessionStorage.getItem("sb-flash");
    if (flash) { sessionStorage.removeItem("sb-flash"); toast(flash); }
  } catch (e) { /* storage off */ }

  // --- The API ------------------------------------------------------------------------------------------
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      if (res.status === 204) return { status: 204, body: null };
      return res.json().then(function (json) { return { status: res.status, body: json }; },
        function () { return { status: res.status, body: null }; });
    });
  }
  function reasonOf(r) {
    var e = r.body && (r.body.error || (r.body.ok === false && r.body.error));
    return (e && e.message) || ("HTTP " + r.status);
  }
  function setResult(el, ok, text) {
    if (!el) return;
    el.textContent = text;
    el.className = "result " + (ok ? "ok" : "fail");
  }

  // --- Back to the app: a redirect-mode page returns to the session's return_url -----------------------
  function backToApp(params) {
    if (parentWindow || !data.returnUrl) return false;
    var target = new URL(data.returnUrl);
    Object.keys(params).forEach(function (k) { if (params[k]) target.searchParams.set(k, params[k]); });
    location.assign(target.toString());
    return true;
  }
  function connected(provider, connectionId, flash) {
    tellParent({ type: "switchboard:connected", provider: provider, connection_id: connectionId });
    if (!backToApp({ status: "success", provider: provider, connection_id: connectionId })) reloadWith(flash);
  }

  // --- Done / close buttons ---------------------------------------------------------------------------
  if (parentWindow || data.returnUrl) {
    document.querySelectorAll('[data-action="close"]').forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        if (backToApp({ status: "closed" })) return;
        tellParent({ type: "switchboard:closed" });
        if (window.opener && window.parent === window) window.close();
      });
    });
  }
  tellParent({ type: "switchboard:ready", page: data.page || "done" });
  var script = document.currentScript || document.querySelector("script[data-page]");
  if (script && script.getAttribute("data-page") === "done") {
    window.close();
    return;
  }

  // --- Marketplace: search as you type, categories ----------------------------------------------------
  var search = document.getElementById("search");
  var category = document.getElementById("category");
  function normalise(s) { return s.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "").trim(); }
  function filterCards() {
    var q = normalise(search.value);
    var cat = category ? category.value : "";
    var shown = 0;
    document.querySelectorAll("#cards .card").forEach(function (card) {
      var hay = normalise(card.getAttribute("data-search") || "");
      var cats = (card.getAttribute("data-categories") || "").split(" ");
      var visible = (!q || q.split(/\s+/).every(function (w) { return hay.indexOf(w) >= 0; })) && (!cat || cats.indexOf(cat) >= 0);
      card.hidden = !visible;
      if (visible) shown += 1;
    });
    document.getElementById("count").textContent = shown === 1 ? t("market.count_one") : t("market.count_many", { n: String(shown) });
    document.getElementById("none").hidden = shown !== 0;
  }
  if (search) {
    search.addEventListener("input", filterCards);
    if (category) category.addEventListener("change", filterCards);
  }

  if (data.page === "admin") { admin(); return; }
  if (data.page !== "provider") return;

  // --- OAuth connect: a popup opened in the click, else a full-page redirect --------------------------
  var flow = document.getElementById("flow");
  var flowText = document.getElementById("flow-text");
  var flowCancel = document.getElementById("flow-cancel");
  var polling = null;

  function stopPolling() {
    if (polling) { clearTimeout(polling.timer); polling = null; }
    if (flow) flow.hidden = true;
  }
  if (flowCancel) flowCancel.addEventListener("click", function () {
    if (polling && polling.popup) { try { polling.popup.close(); } catch (e) { /* gone */ } }
    stopPolling();
  });

  // The result comes from the server: the handshake's status, asked once a second within its lifetime.
  function pollHandshake(id, popup) {
    stopPolling();
    polling = { id: id, popup: popup, deadline: Date.now() + (data.oauthTtlMs || 600000) };
    if (flow) { flow.hidden = false; flowText.textContent = t("provider.waiting", { provider: data.providerName }); }
    var state = polling;
    function tick() {
      if (polling !== state) return;
      if (Date.now() > state.deadline) { stopPolling(); toast(t("provider.connect_failed", { provider: data.providerName, reason: "expired" })); return; }
      api("GET", "/v1/oauth/handshakes/" + encodeURIComponent(id)).then(function (r) {
        if (polling !== state) return;
        var status = r.body && r.body.status;
        if (r.status === 200 && status === "completed") {
          stopPolling();
          connected(data.provider, r.body.connection_id, t("provider.connected_now", { provider: data.providerName }));
        } else if (r.status === 200 && (status === "failed" || status === "expired")) {
          stopPolling();
          var reason = (r.body.error && r.body.error.message) || status;
          tellParent({ type: "switchboard:error", provider: data.provider, code: (r.body.error && r.body.error.code) || status });
          toast(t("provider.connect_failed", { provider: data.providerName, reason: reason }));
        } else {
          state.timer = setTimeout(tick, 1000);
        }
      }, function () { state.timer = setTimeout(tick, 2000); });
    }
    state.timer = setTimeout(tick, 700);
  }

  function startOAuth(connection) {
    var form = document.getElementById("oauth-form");
    var params = {};
    var ok = true;
    if (form && !connection) {
      form.querySelectorAll("[data-param]").forEach(function (input) {
        if (!checkField(input, input.labels[0] ? input.labels[0].textContent : input.name)) ok = false;
        params[input.name] = input.value.trim();
      });
    }
    if (!ok) return;
    // Opened now, inside the click: a window opened after an await is a blocked popup.
    var popup = window.open("", "switchboard-connect", "popup=yes,width=560,height=720");
    var mode = popup ? "popup" : "redirect";
    var back = location.origin + (mode === "popup" ? "/ui/oauth/done" : "/ui/p/" + encodeURIComponent(data.provider));
    var body = { integration: data.integration, provider: data.provider, redirect_uri: back, params: params };
    if (connection) body.connection = connection;
    if (form && !connection) {
      var label = form.querySelector('[name="label"]').value.trim();
      if (label) body.label = label;
      body.shared = form.querySelector('[name="shared"]').checked;
    }
    api("POST", "/v1/oauth/start", body).then(function (r) {
      if (r.status !== 200) {
        if (popup) popup.close();
        toast(t("provider.connect_failed", { provider: data.providerName, reason: reasonOf(r) }));
        return;
      }
      if (popup && !popup.closed) {
        popup.location.href = r.body.auth_url;
        pollHandshake(r.body.handshake_id, popup);
      } else {
        location.assign(r.body.auth_url);
      }
    }, function () { if (popup) popup.close(); toast(t("provider.connect_failed", { provider: data.providerName, reason: "network" })); });
  }

  var oauthForm = document.getElementById("oauth-form");
  if (oauthForm) oauthForm.addEventListener("submit", function (ev) { ev.preventDefault(); startOAuth(null); });

  // Back from a full-page redirect: the handshake id is in the URL; its result is asked of the server.
  var here = new URL(location.href);
  var returned = here.searchParams.get("handshake_id");
  if (returned) {
    history.replaceState(null, "", location.pathname);
    pollHandshake(returned, null);
  }

  // --- Credential forms: checks as you type, Test, then Save ------------------------------------------
  function checkField(input, label) {
    var value = input.value.trim();
    var err = document.getElementById(input.id + "-err");
    var problem = "";
    var prefixes = (input.getAttribute("data-prefixes") || "").split(",").filter(Boolean);
    var pattern = input.getAttribute("data-pattern") || "";
    if (!value && input.required) problem = t("provider.required", { field: label });
    else if (value && prefixes.length && !prefixes.some(function (p) { return value.indexOf(p) === 0; })) problem = t("provider.bad_prefix", { field: label, prefixes: prefixes.join(", ") });
    else if (value && pattern) {
      try { if (!new RegExp("^(?:" + pattern + ")$").test(value)) problem = t("provider.bad_pattern", { field: label }); } catch (e) { /* the server checks */ }
    }
    if (err) err.textContent = problem;
    if (problem) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    return !problem;
  }
  function fieldsOf(form) {
    var out = {};
    form.querySelectorAll("[data-field]").forEach(function (el) {
      var v = el.value;
      if (el.tagName !== "TEXTAREA") v = v.trim();
      if (v !== "") out[el.name] = v;
    });
    return out;
  }
  function labelOf(el) { return el.labels && el.labels[0] ? el.labels[0].childNodes[0].textContent.trim() : el.name; }

  document.querySelectorAll(".credential-form").forEach(function (form) {
    var save = form.querySelector('[data-action="save-credentials"]');
    var result = form.querySelector(".result");
    var tested = null;
    form.querySelectorAll("[data-field]").forEach(function (el) {
      el.addEventListener("input", function () {
        tested = null; save.disabled = true;
        if (el.getAttribute("aria-invalid")) checkField(el, labelOf(el));
      });
      el.addEventListener("blur", function () { if (el.value) checkField(el, labelOf(el)); });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var ok = true;
      form.querySelectorAll("[data-field]").forEach(function (el) { if (!checkField(el, labelOf(el))) ok = false; });
      if (!ok) { var bad = form.querySelector('[aria-invalid="true"]'); if (bad) bad.focus(); return; }
      var credentials = fieldsOf(form);
      var mode = form.getAttribute("data-mode");
      setResult(result, true, t("page.loading"));
      api("POST", "/v1/connections/test", { provider: data.provider, auth_mode: mode, credentials: credentials }).then(function (r) {
        var what = form.getAttribute("data-checks") || "";
        if (r.status === 200 && r.body && r.body.ok) {
          var acc = r.body.account || {};
          var name = acc.name || acc.email || acc.id;
          setResult(result, true, name ? t("provider.tested_as", { provider: data.providerName, what: what, account: name }) : t("provider.tested_ok", { provider: data.providerName, what: what }));
          tested = JSON.stringify(credentials);
          save.disabled = false;
          save.focus();
        } else {
          tested = null; save.disabled = true;
          setResult(result, false, reasonOf(r));
          if (r.body && r.body.error && r.body.error.field) {
            var field = form.querySelector('[name="' + CSS.escape(r.body.error.field.replace(/^credentials\./, "")) + '"]');
            if (field) { field.setAttribute("aria-invalid", "true"); var e = document.getElementById(field.id + "-err"); if (e) e.textContent = reasonOf(r); }
          }
        }
      }, function () { setResult(result, false, "network"); });
    });
    save.addEventListener("click", function () {
      var credentials = fieldsOf(form);
      if (tested === null || tested !== JSON.stringify(credentials)) { save.disabled = true; return; }
      var body = { provider: data.provider, auth_mode: form.getAttribute("data-mode"), credentials: credentials,
        shared: form.querySelector('[name="shared"]').checked };
      var label = form.querySelector('[name="label"]').value.trim();
      if (label) body.label = label;
      save.disabled = true;
      api("POST", "/v1/connections", body).then(function (r) {
        if (r.status === 201 || r.status === 200) {
          connected(data.provider, r.body.id, t("provider.saved", { account: r.body.label }));
        } else {
          setResult(result, false, reasonOf(r));
        }
      }, function () { setResult(result, false, "network"); save.disabled = false; });
    });
  });

  // --- Account actions ----------------------------------------------------------------------------------
  document.querySelectorAll(".account").forEach(function (card) {
    var id = card.getAttribute("data-connection");
    var name = card.getAttribute("data-name");
    var result = card.querySelector(".result");
    var path = "/v1/connections/" + encodeURIComponent(id);
    card.addEventListener("click", function (ev) {
      var button = ev.target.closest("button[data-action]");
      if (!button) return;
      var action = button.getAttribute("data-action");
      if (action === "test") {
        setResult(result, true, t("page.loading"));
        api("POST", path + "/test").then(function (r) {
          if (r.status === 200 && (!r.body || r.body.ok !== false)) setResult(result, true, t("account.test_ok", { account: name }));
          else setResult(result, false, t("account.test_failed", { account: name, reason: reasonOf(r) }));
        });
      } else if (action === "reconnect") {
        startOAuth(id);
      } else if (action === "share") {
        var shared = button.getAttribute("data-shared") === "true";
        api("PATCH", path, { shared: shared }).then(function (r) {
          if (r.status === 200) reloadWith(t(shared ? "account.shared_now" : "account.private_now", { account: name }));
          else setResult(result, false, reasonOf(r));
        });
      } else if (action === "disconnect") {
        card.querySelector("dialog").showModal();
      } else if (action === "cancel-disconnect") {
        card.querySelector("dialog").close();
        card.querySelector('[data-action="disconnect"]').focus();
      } else if (action === "confirm-disconnect") {
        button.disabled = true;
        api("DELETE", path).then(function (r) {
          card.querySelector("dialog").close();
          if (r.status === 204) {
            tellParent({ type: "switchboard:disconnected", provider: data.provider, connection_id: id });
            reloadWith(t("account.disconnected", { account: name }));
          } else {
            button.disabled = false;
            setResult(result, false, reasonOf(r));
          }
        });
      }
    });
    var rename = card.querySelector('form[data-action="rename"]');
    if (rename) rename.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var label = rename.querySelector('[name="label"]').value.trim();
      if (!label) return;
      api("PATCH", path, { label: label }).then(function (r) {
        if (r.status === 200) reloadWith(t("account.renamed", { account: label }));
        else setResult(result, false, reasonOf(r));
      });
    });
  });


  // --- The operator console ---------------------------------------------------------------------------
  function admin() {
    var live = document.getElementById("live");
    // A section the server says changed is fetched again and swapped in place.
    function refreshSections(names) {
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("section[data-live]").forEach(function (section) {
          if (names.indexOf(section.getAttribute("data-live")) < 0) return;
          var next = fresh.getElementById(section.id);
          if (next) section.innerHTML = next.innerHTML;
        });
      });
    }
    if (window.EventSource) {
      var source = new EventSource("/ui/admin/live");
      source.addEventListener("open", function () { live.textContent = t("admin.live_on"); });
      source.addEventListener("error", function () { live.textContent = t("admin.live_off"); });
      source.addEventListener("changed", function (e) { refreshSections(String(e.data).split(" ")); });
    }
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest("button[data-action]");
      if (!button) return;
      var action = button.getAttribute("data-action");
      if (action === "replay") {
        var result = button.parentNode.querySelector(".result");
        button.disabled = true;
        api("POST", "/v1/events/" + encodeURIComponent(button.getAttribute("data-event")) + "/replay",
          { subscription: button.getAttribute("data-subscription") }).then(function (r) {
          if (r.status === 202) setResult(result, true, t("admin.replayed"));
          else { button.disabled = false; setResult(result, false, reasonOf(r)); }
        });
      } else if (action === "copy") {
        var text = document.getElementById(button.getAttribute("data-copy")).textContent;
        var done = function () { toast(t("admin.copied")); };
        if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () { /* not allowed here */ });
        else done();
      }
    });
    var add = document.getElementById("add-integration");
    if (add) add.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var result = add.querySelector(".result");
      var body = {};
      ["provider", "id", "client_id", "client_secret"].forEach(function (name) {
        var v = add.querySelector('[name="' + name + '"]').value.trim();
        if (v) body[name] = v;
      });
      api("POST", "/v1/integrations", body).then(function (r) {
        if (r.status === 201) reloadWith(t("admin.added", { id: body.id }));
        else setResult(result, false, reasonOf(r));
      });
    });
  }
})();
