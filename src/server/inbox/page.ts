/**
 * The live inbox page: plain HTML, CSS and a small script, served as they are (no build step, no
 * framework, no CDN). The script puts every server-sent string into the page with `textContent`
 * or as a property, never as markup; the page's Content-Security-Policy allows no inline script.
 */

/** `GET /`. */
export const INBOX_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autoplay-bridge · live inbox</title>
<link rel="stylesheet" href="/inbox/app.css">
<script src="/inbox/app.js" defer></script>
</head>
<body>
<a class="skip" href="#sessions-heading">Skip to sessions</a>
<header class="top">
  <div>
    <h1>autoplay-bridge <span class="sub">live inbox</span></h1>
    <p class="lede">Web-app users' UI actions arrive per session and wait in a buffer. <strong>Open chat</strong> links a conversation, as a chatbot's webhook would: the buffer goes out as the <em>flush note</em>, and each later burst of actions as a <em>debounced note</em>.</p>
  </div>
  <p id="connection" class="pill" role="status" aria-live="polite">connecting…</p>
</header>
<form id="token-form" class="token" hidden>
  <label for="token">Admin token</label>
  <input id="token" name="token" type="password" autocomplete="off" required>
  <button type="submit">Connect</button>
  <span class="hint">This bridge needs its <code>ADMIN_TOKEN</code> for the live feed.</span>
</form>
<main class="grid">
  <section class="panel sessions" aria-labelledby="sessions-heading">
    <h2 id="sessions-heading" tabindex="-1">Sessions <span class="count" id="sessions-count">0</span></h2>
    <div class="scroll">
      <table id="sessions">
        <caption class="sr-only">Sessions, newest first: id, state, conversation, buffered actions, last activity</caption>
        <thead><tr><th scope="col">Session</th><th scope="col">State</th><th scope="col">Conversation</th><th scope="col" class="num">Buffered</th><th scope="col">Last activity</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p class="empty" id="sessions-empty">No session yet. Send actions to <code>POST /events</code>, or run <code>autoplay-bridge serve --demo</code>.</p>
  </section>
  <section class="panel conversations" aria-labelledby="conversations-heading">
    <h2 id="conversations-heading">Conversations <span class="count" id="conversations-count">0</span></h2>
    <div id="conversations"></div>
    <p class="empty" id="conversations-empty">No conversation yet. Click <strong>Open chat</strong> on a session.</p>
  </section>
  <section class="panel dead" aria-labelledby="dead-heading">
    <h2 id="dead-heading">Dead letters <span class="count" id="dead-count">0</span></h2>
    <div class="scroll">
      <table id="dead-letters" hidden>
        <caption class="sr-only">Notes that could not be delivered, oldest first</caption>
        <thead><tr><th scope="col">Session</th><th scope="col">Conversation</th><th scope="col">Reason</th><th scope="col" class="num">Actions</th><th scope="col">Error</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p class="empty" id="dead-empty">None: every note was delivered.</p>
  </section>
</main>
<footer class="foot">JSON: <a href="/inbox">/inbox</a> · <a href="/dead-letters">/dead-letters</a> · <a href="/metrics">/metrics</a></footer>
<div id="announcer" class="sr-only" aria-live="polite"></div>
<noscript><p class="empty">The live inbox needs JavaScript; <a href="/inbox">/inbox</a> lists the same notes as JSON.</p></noscript>
</body>
</html>
`;

/** `GET /inbox/app.css`. */
export const INBOX_PAGE_CSS = String.raw`:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1c2330; --muted: #5b6577; --line: #e1e5ec;
  --accent: #2457d6; --accent-ink: #fff; --ok: #137a3f; --ok-bg: #e5f5ec; --wait: #8a5a00; --wait-bg: #fff3d6;
  --bad: #b3261e; --bad-bg: #fde8e7; --note: #f8fafc; --flash: #fff7c2;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; padding: 20px 24px 32px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 16px; top: 8px; background: var(--panel); padding: 6px 10px; z-index: 2; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.top { display: flex; gap: 24px; align-items: flex-start; justify-content: space-between; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; letter-spacing: -0.01em; }
h1 .sub { color: var(--muted); font-weight: 500; }
.lede { margin: 0; color: var(--muted); max-width: 70ch; }
.pill { margin: 4px 0 0; padding: 4px 12px; border-radius: 999px; background: var(--wait-bg); color: var(--wait); white-space: nowrap; font-weight: 600; font-size: 13px; }
.pill.live { background: var(--ok-bg); color: var(--ok); }
.pill.live::before { content: "● "; }
.pill.down { background: var(--bad-bg); color: var(--bad); }
.token { display: flex; gap: 8px; align-items: center; margin: 0 0 16px; padding: 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
.token .hint { color: var(--muted); }
input { font: inherit; padding: 5px 8px; border: 1px solid #b8c0cc; border-radius: 6px; }
.grid { display: grid; gap: 16px; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); grid-template-rows: auto 1fr; grid-template-areas: "sessions conversations" "dead conversations"; align-items: start; }
.sessions { grid-area: sessions; } .conversations { grid-area: conversations; } .dead { grid-area: dead; }
@media (max-width: 1100px) { .grid { grid-template-columns: minmax(0, 1fr); grid-template-areas: "sessions" "conversations" "dead"; } }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(20, 30, 50, 0.04); }
h2 { font-size: 16px; margin: 0 0 10px; display: flex; align-items: center; gap: 8px; }
.count { font-size: 12px; font-weight: 600; color: var(--muted); background: var(--bg); border-radius: 999px; padding: 1px 8px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 6px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { white-space: nowrap; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:last-child td { border-bottom: 0; }
#sessions tbody tr { height: 46px; }
td.id { white-space: nowrap; max-width: 24ch; overflow: hidden; text-overflow: ellipsis; }
td.conv-cell { white-space: nowrap; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px; background: var(--bg); color: var(--muted); }
.badge.linked { background: var(--ok-bg); color: var(--ok); }
.badge.waiting { background: var(--wait-bg); color: var(--wait); }
.badge.flush { background: #e6edff; color: var(--accent); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
time { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
button { font: inherit; font-weight: 600; font-size: 13px; padding: 5px 12px; border-radius: 7px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; white-space: nowrap; }
button:hover { filter: brightness(1.08); }
button:disabled { opacity: 0.6; cursor: default; }
:focus-visible { outline: 3px solid #8fb0ff; outline-offset: 2px; }
.error { color: var(--bad); font-size: 12px; display: block; }
.empty { color: var(--muted); margin: 6px 0 2px; }
.conv { border: 1px solid var(--line); border-radius: 10px; margin: 0 0 12px; overflow: hidden; }
.conv > header { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; padding: 8px 12px; background: var(--bg); border-bottom: 1px solid var(--line); }
.conv h3 { margin: 0; font-size: 14px; overflow-wrap: anywhere; }
.conv .who { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.notes { list-style: none; margin: 0; padding: 0; }
.note { padding: 8px 12px; border-top: 1px solid var(--line); }
.note:first-child { border-top: 0; }
.note .meta { display: flex; gap: 8px; align-items: center; font-size: 12px; color: var(--muted); margin-bottom: 4px; }
.note pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; background: var(--note); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.note.fresh pre { animation: flash 1.6s ease-out; }
@keyframes flash { from { background: var(--flash); } to { background: var(--note); } }
@media (prefers-reduced-motion: reduce) { .note.fresh pre { animation: none; } }
.foot { margin-top: 18px; color: var(--muted); font-size: 13px; }
`;

/** `GET /inbox/app.js`: the feed reader and the DOM updates. */
export const INBOX_PAGE_JS = String.raw`"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const rows = new Map();
  const cards = new Map();
  let token = takeToken();

  /** An element with text content (never markup) and properties. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "attrs") for (const [name, v] of Object.entries(value)) node.setAttribute(name, v);
      else node[key] = value;
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function takeToken() {
    const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem("bridge-admin-token", decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem("bridge-admin-token") || "";
  }

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (token) h.authorization = "Bearer " + token;
    return h;
  }

  function announce(text) {
    $("announcer").textContent = text;
  }

  function setConnection(text, kind) {
    const pill = $("connection");
    pill.textContent = text;
    pill.className = "pill " + (kind || "");
  }

  function ago(iso) {
    const ms = Date.now() - Date.parse(iso);
    if (!(ms >= 0)) return "just now";
    const s = Math.floor(ms / 1000);
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    const m = Math.floor(s / 60);
    return m < 60 ? m + " min ago" : Math.floor(m / 60) + " h ago";
  }

  function timeEl(iso) {
    return el("time", { dateTime: iso, title: iso, text: ago(iso) });
  }

  function clock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  // Sessions ------------------------------------------------------------------------------
  function renderSession(s) {
    let row = rows.get(s.session_id);
    if (!row) {
      row = { tr: el("tr"), cells: [] };
      for (let i = 0; i < 6; i++) row.cells.push(row.tr.appendChild(el("td")));
      row.cells[0].className = "id mono";
      row.cells[2].className = "conv-cell";
      row.cells[3].className = "num";
      rows.set(s.session_id, row);
      const body = $("sessions").tBodies[0];
      body.insertBefore(row.tr, body.firstChild);
    }
    row.data = s;
    const [id, state, conv, buffered, last, action] = row.cells;
    id.textContent = s.session_id;
    id.title = s.session_id;
    state.replaceChildren(el("span", { className: "badge", text: s.state || "—" }));
    if (s.linked && s.conversation_id !== null) {
      conv.replaceChildren(el("span", { className: "badge linked", text: "linked" }), " ", el("a", { href: "#conv-" + encodeURIComponent(s.conversation_id), className: "mono", text: s.conversation_id }));
    } else {
      conv.replaceChildren(el("span", { className: "badge waiting", text: "not linked" }));
    }
    buffered.textContent = String(s.buffered_actions);
    last.replaceChildren(timeEl(s.last_activity_at));
    if (s.linked) {
      if (action.querySelector("button") === document.activeElement) $("sessions-heading").focus();
      action.replaceChildren();
    } else if (!action.querySelector("button")) {
      const button = el("button", { type: "button", text: "Open chat", attrs: { "aria-label": "Open chat for session " + s.session_id } });
      button.addEventListener("click", () => openChat(s.session_id, button, action));
      action.replaceChildren(button);
    }
    counts();
  }

  function removeSession(id) {
    const row = rows.get(id);
    if (row) row.tr.remove();
    rows.delete(id);
    counts();
  }

  async function openChat(sessionId, button, cell) {
    button.disabled = true;
    button.textContent = "Opening…";
    try {
      const res = await fetch("/inbox/open-chat", { method: "POST", headers: headers({ "content-type": "application/json" }), body: JSON.stringify({ session_id: sessionId }) });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((body.error && body.error.message) || "HTTP " + res.status);
      announce("Chat " + body.conversation_id + " opened for session " + sessionId + ": the flush note follows.");
    } catch (error) {
      button.disabled = false;
      button.textContent = "Open chat";
      const message = el("span", { className: "error", text: String(error.message || error) });
      cell.querySelectorAll(".error").forEach((e) => e.remove());
      cell.append(message);
      announce("Could not open the chat: " + message.textContent);
    }
  }

  // Conversations -------------------------------------------------------------------------
  function card(conversationId, sessionId) {
    let c = cards.get(conversationId);
    if (!c) {
      const who = el("span", { className: "who mono" });
      const list = el("ol", { className: "notes" });
      const article = el("article", { className: "conv", id: "conv-" + encodeURIComponent(conversationId), attrs: { "aria-label": "Conversation " + conversationId } }, [
        el("header", {}, [el("h3", { className: "mono", text: conversationId }), who]),
        list,
      ]);
      c = { article, who, list, notes: new Map() };
      cards.set(conversationId, c);
      const box = $("conversations");
      box.insertBefore(article, box.firstChild);
    }
    if (sessionId) c.who.textContent = "session " + sessionId;
    counts();
    return c;
  }

  function addNote(conversationId, note, fresh) {
    const c = card(conversationId, note.session_id);
    if (c.notes.has(note.id)) return;
    const kind = note.kind === "flush" ? "flush note" : note.kind === "debounced" ? "debounced note" : "note";
    const li = el("li", { className: "note" + (fresh ? " fresh" : ""), attrs: { "data-note-id": note.id } }, [
      el("div", { className: "meta" }, [el("span", { className: "badge" + (note.kind === "flush" ? " flush" : ""), text: kind }), el("span", { className: "mono", text: note.id }), el("span", { text: clock(note.at) })]),
      el("pre", { text: note.body }),
    ]);
    c.notes.set(note.id, li);
    c.list.append(li);
    if (fresh) announce("New " + kind + " in " + conversationId);
  }

  function redact(conversationId, noteId) {
    const c = cards.get(conversationId);
    const li = c && c.notes.get(noteId);
    if (!li) return;
    li.remove();
    c.notes.delete(noteId);
  }

  // Dead letters --------------------------------------------------------------------------
  function renderDeadLetters(letters) {
    const table = $("dead-letters");
    const rowsOf = letters.map((d) =>
      el("tr", {}, [
        el("td", { className: "id mono", text: d.session_id }),
        el("td", { className: "id mono", text: d.conversation_id }),
        el("td", {}, [el("span", { className: "badge bad", text: d.reason })]),
        el("td", { className: "num", text: String(d.actions.length) }),
        el("td", { text: d.error }),
      ]),
    );
    table.tBodies[0].replaceChildren(...rowsOf);
    table.hidden = letters.length === 0;
    $("dead-empty").hidden = letters.length > 0;
    $("dead-count").textContent = String(letters.length);
  }

  function counts() {
    $("sessions-count").textContent = String(rows.size);
    $("sessions-empty").hidden = rows.size > 0;
    $("conversations-count").textContent = String(cards.size);
    $("conversations-empty").hidden = cards.size > 0;
  }

  function snapshot(data) {
    rows.clear();
    cards.clear();
    $("sessions").tBodies[0].replaceChildren();
    $("conversations").replaceChildren();
    for (const s of data.sessions.slice().reverse()) renderSession(s);
    for (const c of data.conversations) {
      card(c.conversation_id, c.session_id);
      for (const n of c.notes) addNote(c.conversation_id, n, false);
    }
    renderDeadLetters(data.dead_letters);
    counts();
  }

  const handlers = {
    snapshot,
    session: renderSession,
    "session-removed": (d) => removeSession(d.session_id),
    note: (d) => addNote(d.conversation_id, d.note, true),
    redacted: (d) => redact(d.conversation_id, d.note_id),
    "dead-letters": (d) => renderDeadLetters(d.dead_letters),
  };

  function dispatch(frame) {
    let event = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    const handler = handlers[event];
    if (handler && data.length > 0) handler(JSON.parse(data.join("\n")));
  }

  // The feed: server-sent events read with fetch, so an admin token can go in a header.
  async function connect() {
    let delay = 1000;
    for (;;) {
      try {
        const res = await fetch("/inbox/feed", { headers: headers({ accept: "text/event-stream" }), cache: "no-store" });
        if (res.status === 401) {
          setConnection("token needed", "down");
          $("token-form").hidden = false;
          return;
        }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
        setConnection("live", "live");
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
        throw new Error("feed closed");
      } catch (error) {
        setConnection("reconnecting…", "down");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
      }
    }
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value;
    sessionStorage.setItem("bridge-admin-token", token);
    $("token-form").hidden = true;
    setConnection("connecting…", "");
    void connect();
  });

  setInterval(() => {
    for (const t of document.querySelectorAll("time")) t.textContent = ago(t.dateTime);
  }, 1000);

  counts();
  void connect();
})();
`;
