// The picker page: click or tap the frame to mark a point there, move between frames, undo or
// clear, and follow other members' changes live (server-sent events). No framework, no build.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("picker-config").textContent);
  const T = config.texts;
  const token = config.token;
  const canvas = document.getElementById("frame");
  const ctx = canvas.getContext("2d");
  const slider = document.getElementById("slider");
  const frameNo = document.getElementById("frame-no");
  const statusLine = document.getElementById("status");
  const list = document.getElementById("points");
  const undoButton = document.getElementById("undo");
  const clearButton = document.getElementById("clear");

  let state = null;          // the last state the server sent
  let frame = 0;             // the frame this page shows (each member moves on their own)
  let shown = "";            // "frame@version" of the frame and masks on the canvas
  let picture = null;        // ImageBitmap of that frame, without masks
  let masks = null;          // its masks: {width, height, layers: [{box, bitmap}]}
  let loads = 0;             // only the newest load may draw
  let loading = "";          // "frame@version" of the load on its way, if any
  const frames = new Map();  // frame number -> Promise of its ImageBitmap, newest last
  const FRAMES_KEPT = 8;
  let heard = null;          // a version announced while this page's own change was out
  let pending = null;        // {x, y} of a click waiting for the server
  let busy = false;
  let dead = false;          // the link expired or the session ended: nothing more to do

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
  }

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  async function call(method, path, body) {
    const options = { method, headers: { "X-Picker-Token": token }, cache: "no-store" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 403) {
      dead = true;
      const text = await response.text();
      say(text.replace(/\*\*/g, ""), true);
      setEnabled();
      throw new Error("forbidden");
    }
    return response;
  }

  function draw() {
    if (picture) {
      ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
    }
    if (picture && masks) {
      // Each object's mask, drawn by the server as the board draws it, cropped to the object.
      const sx = canvas.width / masks.width;
      const sy = canvas.height / masks.height;
      for (const layer of masks.layers) {
        const [left, top, right, bottom] = layer.box;
        ctx.drawImage(layer.bitmap, left * sx, top * sy, (right - left) * sx, (bottom - top) * sy);
      }
    }
    if (state) {
      // Numbered dots sized in CSS pixels, so they stay readable on a phone.
      const scale = canvas.width / Math.max(1, canvas.getBoundingClientRect().width);
      const r = 11 * scale;
      ctx.font = "bold " + Math.round(13 * scale) + "px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      for (const point of state.points) {
        if (point.frame !== frame) continue;
        const x = point.x * canvas.width;
        const y = point.y * canvas.height;
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = "#ffffff";
        ctx.fill();
        ctx.lineWidth = 2.5 * scale;
        ctx.strokeStyle = "#111111";
        ctx.stroke();
        ctx.fillStyle = "#111111";
        ctx.fillText(String(point.number), x, y + scale);
      }
    }
    if (pending) {
      // Where the click landed, until the mask and the numbered point come back.
      const r = Math.max(8, Math.round(Math.min(canvas.width, canvas.height) / 45));
      ctx.beginPath();
      ctx.arc(pending.x * canvas.width, pending.y * canvas.height, r, 0, 2 * Math.PI);
      ctx.lineWidth = Math.max(2, r / 4);
      ctx.strokeStyle = "#ffffff";
      ctx.setLineDash([4, 3]);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  // The frame never changes with the marks: fetched and decoded once, kept for a while.
  function framePicture(number) {
    let found = frames.get(number);
    if (found) {
      frames.delete(number);
    } else {
      found = call("GET", "api/frame/" + number).then(async (response) => {
        if (!response.ok) throw new Error("frame " + number + ": " + response.status);
        return createImageBitmap(await response.blob());
      });
      const asked = found;
      asked.catch(() => {
        if (frames.get(number) === asked) frames.delete(number);  // asked again next time
      });
    }
    frames.set(number, found);
    while (frames.size > FRAMES_KEPT) frames.delete(frames.keys().next().value);
    return found;
  }

  async function decodeMasks(answer) {
    const layers = await Promise.all(answer.overlays.map(async (overlay) => {
      const bytes = Uint8Array.from(atob(overlay.webp), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/webp" }));
      return { box: overlay.box, bitmap };
    }));
    return { width: answer.width, height: answer.height, layers };
  }

  async function fetchMasks(number) {
    const response = await call("GET", "api/masks/" + number);
    if (!response.ok) throw new Error("masks " + number + ": " + response.status);
    return decodeMasks(await response.json());
  }

  // Show this page's frame at the state's version: the kept frame picture, and its masks from
  // `given` (a change's answer carries them) or asked for.
  async function load(given) {
    if (!state) return;
    const key = frame + "@" + state.version;
    // Already shown or on its way: asking again would only throw that away.
    if (key === shown || key === loading) return;
    const mine = ++loads;
    loading = key;
    const number = frame;
    let bitmap;
    let layers;
    try {
      [bitmap, layers] = await Promise.all([
        framePicture(number),
        given && given.frame === number ? decodeMasks(given) : fetchMasks(number),
      ]);
    } finally {
      if (mine === loads) loading = "";
    }
    if (mine !== loads) return;
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      document.documentElement.style.setProperty("--aspect", String(bitmap.width / bitmap.height));
    }
    picture = bitmap;
    masks = layers;
    shown = key;
    pending = null;
    draw();
    canvas.dataset.shown = key;
  }

  function setEnabled() {
    const active = Boolean(state && state.active) && !dead;
    canvas.classList.toggle("ended", !active);
    canvas.classList.toggle("busy", busy);
    const count = state ? state.points.length : 0;
    undoButton.disabled = !active || busy || count === 0;
    clearButton.disabled = !active || busy || count === 0;
    for (const button of list.querySelectorAll("button")) button.disabled = !active || busy;
  }

  function showFrameNumber() {
    const last = state ? state.totalFrames - 1 : 0;
    slider.max = String(Math.max(0, last));
    slider.value = String(frame);
    frameNo.textContent = format(T.frameOf, { frame, last });
  }

  function renderList() {
    list.textContent = "";
    const points = state.points.slice().sort((a, b) => a.frame - b.frame || a.number - b.number);
    if (points.length === 0) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = T.noPoints;
      list.appendChild(empty);
    }
    for (const point of points) {
      const item = document.createElement("li");
      item.dataset.point = String(point.id);
      if (point.frame === frame) item.classList.add("here");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = format(T.pointLine,
        { number: point.number, frame: point.frame, name: point.name });
      what.addEventListener("click", () => goTo(point.frame));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = T.remove;
      remove.addEventListener("click", () => change("api/undo", { point: point.id, frame }));
      item.append(what, remove);
      list.appendChild(item);
    }
  }

  function apply(next, given) {
    const first = state === null;
    state = next;
    if (first) frame = next.frame;
    showFrameNumber();
    renderList();
    if (!state.active) {
      dead = true;
      say(T.ended, true);
    }
    setEnabled();
    document.body.dataset.version = state.version;
    return load(given);
  }

  async function refresh() {
    try {
      const response = await call("GET", "api/state");
      if (response.status === 410) {
        dead = true;
        say(T.ended, true);
        setEnabled();
        return;
      }
      if (response.ok) await apply(await response.json());
    } catch (error) {
      if (!dead) say(T.offline, true);
    }
  }

  async function change(path, body) {
    if (busy || dead) return;
    busy = true;
    setEnabled();
    say(T.saving, false);
    try {
      const response = await call("POST", path, body);
      const answer = await response.json();
      if (response.ok) {
        say(T.hint, false);
        await apply(answer, answer.masks);
      } else {
        pending = null;
        draw();
        say(answer.error || String(response.status), true);
        if (answer.ended) {
          dead = true;
        }
      }
    } catch (error) {
      pending = null;
      draw();
      if (!dead) say(T.offline, true);
    } finally {
      busy = false;
      setEnabled();
      // A change announced while ours was out that our answer did not include: fetch it now.
      const missed = heard;
      heard = null;
      if (missed !== null && state && missed !== state.version && !dead) refresh();
    }
  }

  function goTo(target) {
    if (!state) return;
    frame = Math.max(0, Math.min(state.totalFrames - 1, target));
    showFrameNumber();
    renderList();
    load(null).catch(() => {
      if (!dead) say(T.offline, true);
    });
  }

  canvas.addEventListener("click", (event) => {
    if (!state || busy || dead) return;
    // The element has no border or padding: its box is the frame, edge to edge.
    const box = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    pending = { x, y };
    draw();
    change("api/mark", { frame, x, y });
  });

  for (const button of document.querySelectorAll("#frames button[data-step]")) {
    button.addEventListener("click", () => goTo(frame + Number(button.dataset.step)));
  }
  slider.addEventListener("input", () => goTo(Number(slider.value)));
  undoButton.addEventListener("click", () => change("api/undo", { frame }));
  clearButton.addEventListener("click", () => {
    if (window.confirm(T.confirmClear)) change("api/clear", { frame });
  });

  function listen() {
    const events = new EventSource("api/events?t=" + encodeURIComponent(token));
    events.addEventListener("version", (event) => {
      // Our own change's answer carries the new state: no second request for it.
      if (busy) heard = event.data;
      else if (!state || event.data !== state.version) refresh();
      else if (!dead) say(T.hint, false);
    });
    events.addEventListener("expired", () => {
      events.close();
      refresh();
    });
    events.addEventListener("error", () => {
      if (!dead) say(T.offline, true);
    });
  }

  refresh().then(listen);
})();
