"""The Lua scripts wrk runs: WRK_LUA for one endpoint, MIXED_LUA for the mixed load,
LUA_UUID4 (a fresh checkout token for every POST), and how Python values are written
into their %(...)s slots."""


# A random (version 4) UUID in Lua: the fresh checkout token of every POST.
LUA_UUID4 = r"""local function uuid4()
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    math.random(0, 65535), math.random(0, 65535), math.random(0, 65535), math.random(0, 4095),
    math.random(32768, 49151), math.random(0, 65535), math.random(0, 65535), math.random(0, 65535))
end
"""

# wrk's Lua hooks: count responses whose status is not expected (EXPECT, filled in per
# endpoint), and print one machine-readable line with the totals and latency
# percentiles (microseconds). For a POST, BODY is sent with a new checkout_token each
# time (a double submit with the same token would return the first order instead).
WRK_LUA = r"""
local threads = {}
local EXPECT = {%(expect)s}
local METHOD, BODY = %(method)s, %(body)s

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  math.randomseed(os.time() * 1000 + (id or 0))
end

%(uuid4)s
function request()
  if METHOD == "POST" then
    return wrk.format("POST", nil, nil, BODY .. "&checkout_token=" .. uuid4())
  end
  return wrk.format("GET")
end

function response(status, headers, body)
  if not EXPECT[status] then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "status_ge_400": %%d, "non2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status, bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""

# The mixed load: every connection cycles through MIX, 20 steps: 12 anonymous pages,
# 6 of the customer's, 1 checkout POST (a new order) and 1 确认收货 POST (the next order
# in 交易中; once all are confirmed, a repeat is a double click, answered like the
# first). One order and one confirmation in 20 requests is far more writing than a
# shop sees, and each confirmation costs a worker ~0.8 s of CPU for its PDFs.
# GETs must answer 200, POSTs 302; anything else, or a socket error, is an error.
MIXED_LUA = r"""
local threads = {}
local ANON = {["X-Forwarded-Proto"] = "https"}
local SIGNED_IN = {["X-Forwarded-Proto"] = "https", ["Cookie"] = %(cookie)s}
local POSTING = {["X-Forwarded-Proto"] = "https", ["Cookie"] = %(cookie)s,
  ["Content-Type"] = "application/x-www-form-urlencoded", ["Origin"] = %(origin)s, ["Referer"] = %(referer)s}
local BROWSE = {%(browse)s}
local MINE = {%(mine)s}
local CHECKOUT, CHECKOUT_BODY, CSRF = %(checkout)s, %(checkout_body)s, %(csrf)s
local CONFIRM = {%(confirm)s}
local MIX = {"browse", "browse", "mine", "browse", "checkout", "browse", "mine", "browse", "mine", "browse",
  "browse", "mine", "browse", "browse", "confirm", "mine", "browse", "browse", "mine", "browse"}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bad, step, posts, confirms = 0, 0, 0, 0
  math.randomseed(os.time() * 1000 + id)
  -- every thread confirms its own share of the orders in 交易中
  nthreads = %(threads)d
end

%(uuid4)s
function request()
  step = step + 1
  local kind = MIX[(step - 1) %% #MIX + 1]
  if kind == "browse" then
    return wrk.format("GET", BROWSE[(step - 1) %% #BROWSE + 1], ANON)
  elseif kind == "mine" then
    return wrk.format("GET", MINE[(step - 1) %% #MINE + 1], SIGNED_IN)
  elseif kind == "checkout" then
    posts = posts + 1
    return wrk.format("POST", CHECKOUT, POSTING, CHECKOUT_BODY .. "&checkout_token=" .. uuid4())
  end
  local index = (confirms * nthreads + id - 1) %% #CONFIRM + 1
  confirms = confirms + 1
  return wrk.format("POST", CONFIRM[index], POSTING, "csrfmiddlewaretoken=" .. CSRF)
end

function response(status, headers, body)
  if status ~= 200 and status ~= 302 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local totals = {bad = 0, posts = 0, confirms = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + (thread:get(key) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "status_ge_400": %%d, "non2xx": %%d, ' ..
    '"posts": %%d, "confirms": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status, totals.bad, totals.posts, totals.confirms,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def lua_string(value: str) -> str:
    """A Lua string literal, for the %(...)s slots of the Lua templates above."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_list(values) -> str:
    return ", ".join(lua_string(value) for value in values)
