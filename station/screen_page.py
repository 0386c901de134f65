"""The kiosk page: readable at two metres in sunlight (large type, white on black, the
light tower's colours), and one Chromium can show offline: no fonts or scripts fetched.
The parts' names come from the one table of them (station.core.parts).
"""

import json

from station.core.parts import PARTS

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>采样台</title>
<style>
  :root { --ok: #2ecc40; --warn: #ffdc00; --bad: #ff4136; --dim: #9a9a9a; }
  * { box-sizing: border-box; }
  html, body { margin: 0; height: 100%; background: #000; color: #fff;
    font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; }
  body { display: grid; grid-template-rows: auto 1fr auto auto; height: 100vh;
    padding: 1.2vh 2vw; gap: 1.2vh; }
  header, footer { display: flex; justify-content: space-between; align-items: center;
    font-size: 3.6vh; gap: 2vw; }
  #where { color: var(--dim); }
  #link.online { color: var(--ok); } #link.offline { color: var(--warn); }
  /* The count takes what it needs, the list the rest: each entry must show whole, the
     mask's last characters being what the operator checks (#42). */
  main { display: grid; grid-template-columns: auto 1fr; gap: 2vw; min-height: 0; }
  #tube-id { font-size: 4.5vh; color: var(--dim); }
  #box { font-size: 5vh; }
  #count { font-size: 22vh; font-weight: bold; line-height: 1; }
  #count small { font-size: 11vh; color: var(--dim); }
  #positions { list-style: none; margin: 0; padding: 0; display: grid;
    grid-template-columns: 1fr 1fr; grid-auto-flow: column; gap: 0.6vh 1.5vw;
    font-size: min(3.4vh, 2.2vw); align-content: start; }
  #positions li { border-bottom: 1px solid #333; white-space: nowrap; overflow: hidden; }
  #positions li.empty { color: #555; }
  #last { font-size: 7vh; font-weight: bold; padding: 1vh 1.5vw; border-radius: 1vh;
    border: 0.6vh solid #333; min-height: 11vh; }
  #last.accepted { border-color: var(--ok); color: var(--ok); }
  #last.refused, #last.fault { border-color: var(--bad); color: var(--bad); }
  #last.warning { border-color: var(--warn); color: var(--warn); }
  #who { font-size: 4vh; color: #ddd; font-weight: normal; }
  #faults { font-size: 5vh; color: var(--bad); font-weight: bold; }
  #devices span { margin-left: 1.5vw; }
  #devices .ok { color: var(--ok); } #devices .fault { color: var(--bad); font-weight: bold; }
  #clock { color: var(--warn); }
</style>
</head>
<body>
<header>
  <span id="where">—</span>
  <span id="operator">未登录</span>
  <span id="clock" hidden>⚠ 时钟未同步</span>
  <span id="link">—</span>
</header>
<main>
  <section>
    <div id="tube-id">未开管</div>
    <div id="count">0<small> / 0</small></div>
    <div id="box">本箱 0 管 0 人</div>
  </section>
  <ol id="positions"></ol>
</main>
<div id="last">就绪<div id="who"></div></div>
<footer>
  <span id="faults"></span>
  <span id="devices"></span>
</footer>
<script>
"use strict";
const PARTS = __PARTS__;
const KIND = {accepted: "accepted", one_left: "accepted", sealed: "accepted",
              done: "accepted", tube_open: "accepted", duplicate: "warning",
              refused: "refused", fault: "fault", offline: "warning"};
const $ = (id) => document.getElementById(id);

function render(s) {
  $("where").textContent = s.site + " · " + s.station + " · " + s.pool_size + "混1";
  $("clock").hidden = s.clock_synced;
  const link = $("link");
  link.className = s.link.connected ? "online" : "offline";
  link.textContent = (s.link.connected ? "在线" : "离线") + " · 待传 " + s.link.backlog;
  const tube = s.tube;
  $("tube-id").textContent = tube ? "试管 " + tube.id : "未开管";
  $("count").firstChild.textContent = tube ? tube.count : 0;
  $("count").lastChild.textContent = " / " + s.pool_size;
  const list = $("positions");
  list.style.gridTemplateRows = "repeat(" + Math.ceil(s.pool_size / 2) + ", auto)";
  list.replaceChildren();
  for (let i = 0; i < s.pool_size; i++) {
    const li = document.createElement("li");
    const who = tube && tube.positions[i];
    li.textContent = (i + 1) + ". " + (who || "");
    li.className = who ? "filled" : "empty";
    list.appendChild(li);
  }
  $("box").textContent = "本箱 " + s.box.tubes + " 管 " + s.box.samples + " 人"
    + (s.box.waiting ? " · 待转运 " + s.box.waiting + " 箱" : "");
  $("operator").textContent = s.operator ? "登记人 " + s.operator : "未登录";
  const last = $("last");
  last.className = s.last ? (KIND[s.last.pattern] || "") : "";
  last.firstChild.textContent = s.last ? s.last.line : "就绪";
  $("who").textContent = s.last ? [s.last.who, s.last.at].filter(Boolean).join(" · ") : "";
  $("faults").textContent = s.faults.join("；");
  const devices = $("devices");
  devices.replaceChildren();
  for (const [part, health] of Object.entries(s.devices)) {
    const span = document.createElement("span");
    span.className = health;
    span.dataset.part = part;
    span.textContent = (PARTS[part] || part) + (health === "ok" ? " ✓" : " ✗");
    devices.appendChild(span);
  }
  document.body.dataset.seq = s.seq;
}

fetch("/api/state").then((r) => r.json()).then(render);
const events = new EventSource("/events");
events.onmessage = (e) => render(JSON.parse(e.data));
</script>
</body>
</html>
"""

PAGE = _PAGE.replace("__PARTS__", json.dumps({p.part: p.label for p in PARTS},
                                             ensure_ascii=False))
