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
  non2xx, unexpected = 0, {}
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
    unexpected[status] = (unexpected[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad, by_status = 0, {}
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    for status, n in pairs(thread:get("unexpected") or {}) do by_status[status] = (by_status[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(by_status) do table.insert(parts, string.format('"%%d": %%d', status, n)) end
  io.write("BENCH_STATUSES {" .. table.concat(parts, ", ") .. "}\n")
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


# The many-customers load (customers.py): one connection per wrk thread, so that each
# response is read knowing which customer's request it answers. Every thread visits its
# share of CUSTOMERS in turn, VISIT's steps each time: the storefront anonymously and
# signed in, My Orders, an order, 我的消息, the checkout page, a checkout POST (a new
# order), 确认收货 of the customer's next order in 交易中, each POST's redirect followed as
# a browser does (with the flash-message cookie). Every response is checked:
#   - its status (GET 200, POST 302 to the expected page), counted by group and status;
#   - markers (KH0001Q …: each customer's name, company, invoice title and store name
#     carry theirs): a signed-in page must show its customer's and no other, an
#     anonymous page none; anything else is a problem, reported with its path;
#   - every order number a customer's page shows is reported, for customers.py to check
#     against the database that it is theirs.
# POSTs stop QUIET seconds before the end (GETs go on), so none is in flight when wrk
# stops and "orders made = checkout POSTs answered 302" holds exactly.
# wrk hands a thread's variables to done() only if they are flat (a table in a table
# crashes it): latencies are numbers group * 1e9 + microseconds, the other tallies are
# tables keyed by "group|status" and "customer|order number".
CUSTOMERS_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct bench_timespec { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

local CUSTOMERS = {%(customers)s}
local PATHS = {%(paths)s}
local ORIGIN, DURATION_US, QUIET_US = %(origin)s, %(duration)d * 1000000, %(quiet)d * 1000000
local CONNECTIONS = %(connections)d
local MARKER = "%(marker_pattern)s"
local NUMBER = "BS%%-ZX%%d+"
local VISIT = {"anon_home", "home", "list", "mine", "order", "anon_list", "detail", "checkout", "checkout_post",
  "messages", "anon_detail", "list_q", "mine_in_trade", "order", "confirm_post", "anon_filtered", "mine", "home"}
local GROUP_NAMES = {"storefront, anonymous", "storefront, signed in", "My Orders", "order page", "我的消息",
  "checkout page", "checkout POST", "确认收货 POST", "page after a POST (flash message)"}
local GROUPS = {anon_home = 1, anon_list = 1, anon_detail = 1, anon_filtered = 1, home = 2, list = 2, list_q = 2,
  detail = 2, mine = 3, mine_in_trade = 3, order = 4, messages = 5, checkout = 6, checkout_post = 7,
  confirm_post = 8, after_post = 9}

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

%(uuid4)s
function init(args)
  math.randomseed(os.time() * 1000 + id)
  mine_customers = {}
  for index = id, #CUSTOMERS, CONNECTIONS do table.insert(mine_customers, index) end
  started = now_us()
  step, visit, pending, current = 0, 1, nil, nil
  next_order, next_confirm = {}, {}
  latencies, statuses, seen, problems = {}, {}, {}, {}
  counts = {checkout = 0, checkout_302 = 0, confirm = 0, confirm_302 = 0, visits = 0, problems = 0}
end

local function problem(text)
  counts.problems = counts.problems + 1
  if #problems < 50 then table.insert(problems, text) end
end

local function headers_for(customer, extra_cookie)
  local headers = {["X-Forwarded-Proto"] = "https"}
  if customer then
    headers["Cookie"] = "sessionid=" .. customer.session .. "; csrftoken=" .. customer.csrf .. (extra_cookie or "")
  end
  return headers
end

local function posting(customer, referer)
  local headers = headers_for(customer)
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Origin"] = ORIGIN
  headers["Referer"] = ORIGIN .. referer
  return headers
end

function request()
  local c = CUSTOMERS[mine_customers[visit]]
  if pending then
    current, pending = pending, nil
    current.sent = now_us()
    return wrk.format("GET", current.path, headers_for(c, current.cookie))
  end
  step = step + 1
  if step > #VISIT then
    step, visit = 1, visit %% #mine_customers + 1
    counts.visits = counts.visits + 1
    c = CUSTOMERS[mine_customers[visit]]
  end
  local kind = VISIT[step]
  if (kind == "checkout_post" or kind == "confirm_post") and now_us() - started > DURATION_US - QUIET_US then
    kind = "mine"
  end
  current = {kind = kind, customer = mine_customers[visit], sent = now_us()}
  if kind:sub(1, 5) == "anon_" then
    current.path = PATHS[kind:sub(6)]
    return wrk.format("GET", current.path, headers_for(nil))
  elseif kind == "order" then
    local n = (next_order[current.customer] or 0) %% #c.orders + 1
    next_order[current.customer] = n
    current.path = "/account/orders/" .. c.orders[n] .. "/"
  elseif kind == "checkout_post" then
    counts.checkout = counts.checkout + 1
    current.path, current.expect = PATHS.checkout, PATHS.after_checkout
    return wrk.format("POST", current.path, posting(c, current.path), c.checkout_body .. "&checkout_token=" .. uuid4())
  elseif kind == "confirm_post" then
    local n = (next_confirm[current.customer] or 0) %% #c.in_trade + 1
    next_confirm[current.customer] = n
    counts.confirm = counts.confirm + 1
    current.number = c.in_trade[n]
    current.path = "/account/orders/" .. current.number .. "/confirm/"
    current.expect = "/account/orders/" .. current.number .. "/"
    return wrk.format("POST", current.path, posting(c, current.expect), "csrfmiddlewaretoken=" .. c.csrf)
  else
    current.path = PATHS[kind]
  end
  return wrk.format("GET", current.path, headers_for(c))
end

function response(status, headers, body)
  local r = current
  if not r then return end
  local group = GROUPS[r.kind]
  statuses[group .. "|" .. status] = (statuses[group .. "|" .. status] or 0) + 1
  table.insert(latencies, group * 1000000000 + (now_us() - r.sent))
  local c = CUSTOMERS[r.customer]
  local anonymous = r.kind:sub(1, 5) == "anon_"
  local who = anonymous and "anonymous" or c.marker
  if r.kind == "checkout_post" or r.kind == "confirm_post" then
    local location = (headers["Location"] or ""):gsub("^https?://[^/]+", "")
    if status ~= 302 then
      problem("POST " .. r.path .. " (" .. who .. ") answered " .. status)
    elseif location ~= r.expect then
      problem("POST " .. r.path .. " (" .. who .. ") redirected to " .. location .. ", not " .. r.expect)
    else
      if r.kind == "checkout_post" then
        counts.checkout_302 = counts.checkout_302 + 1
      else
        counts.confirm_302 = counts.confirm_302 + 1
      end
      local cookie = (headers["Set-Cookie"] or ""):match("messages=[^;]*")
      pending = {kind = "after_post", customer = r.customer, path = location,
        cookie = cookie and ("; " .. cookie) or nil, number = r.number}
    end
    return
  end
  if status ~= 200 then
    problem("GET " .. r.path .. " (" .. who .. ") answered " .. status)
    return
  end
  local own = false
  for marker in body:gmatch(MARKER) do
    if marker == c.marker and not anonymous then
      own = true
    else
      problem("GET " .. r.path .. " (" .. who .. ") shows " .. marker)
    end
  end
  if anonymous then
    if body:find(NUMBER) then problem("GET " .. r.path .. " (anonymous) shows an order number") end
    return
  end
  if not own then problem("GET " .. r.path .. " (" .. who .. ") does not show its customer's marker") end
  for number in body:gmatch(NUMBER) do seen[r.customer .. "|" .. number] = true end
  if r.number and not body:find(r.number, 1, true) then
    problem("GET " .. r.path .. " after 确认收货 (" .. who .. ") does not show " .. r.number)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout))
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    io.write(string.format(
      'BENCH_COUNTS {"checkout": %%d, "checkout_302": %%d, "confirm": %%d, "confirm_302": %%d, "visits": %%d, "problems": %%d}\n',
      c.checkout, c.checkout_302, c.confirm, c.confirm_302, c.visits, c.problems))
    for key, n in pairs(thread:get("statuses")) do
      local group, status = key:match("(%%d+)|(%%d+)")
      io.write("BENCH_STATUS\t" .. GROUP_NAMES[tonumber(group)] .. "\t" .. status .. "=" .. n .. "\n")
    end
    local by_group = {}
    for _, value in ipairs(thread:get("latencies")) do
      local group = math.floor(value / 1000000000)
      by_group[group] = by_group[group] or {}
      table.insert(by_group[group], string.format("%%d", value - group * 1000000000))
    end
    for group, values in pairs(by_group) do
      io.write("BENCH_LATENCY\t" .. GROUP_NAMES[group] .. "\t" .. table.concat(values, " ") .. "\n")
    end
    for key, _ in pairs(thread:get("seen")) do
      local customer, number = key:match("(%%d+)|(.+)")
      io.write("BENCH_SEEN\t" .. customer .. "\t" .. number .. "\n")
    end
    for _, text in ipairs(thread:get("problems")) do io.write("BENCH_PROBLEM\t" .. text .. "\n") end
  end
end
"""
