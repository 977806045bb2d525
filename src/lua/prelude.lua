-- portcullis: the Lua side of HAProxy's `txn`, `applet` and `act` objects.
-- Loaded once per state; each call builds its objects from primitives (P)
-- that Rust provides for that call only. Anything not listed here raises
-- "not supported by portcullis" when used, never a silent nil.
local unsupported = function(what)
  return function() error(what .. " is not supported by portcullis", 2) end
end

local function strict(obj, what)
  return setmetatable(obj, {
    __index = function(_, k)
      error(what .. "." .. tostring(k) .. " is not supported by portcullis", 2)
    end,
  })
end

-- txn.f / txn.sf / txn.c / txn.sc: any fetch or converter by name, with
-- HAProxy's '.' -> '_' spelling (txn.f:req_hdr("host")).
local function fetches(P, as_string)
  return setmetatable({}, {
    __index = function(_, name)
      return function(_, ...) return P.fetch(name, as_string, ...) end
    end,
  })
end

local function converters(P, as_string)
  return setmetatable({}, {
    __index = function(_, name)
      return function(_, v, ...) return P.conv(name, as_string, v, ...) end
    end,
  })
end

local function http(P)
  local h = {}
  function h.req_get_headers(_) return P.get_headers("req") end
  function h.res_get_headers(_) return P.get_headers("res") end
  function h.req_set_header(_, n, v) P.header("req", "set", n, v) end
  function h.req_add_header(_, n, v) P.header("req", "add", n, v) end
  function h.req_del_header(_, n) P.header("req", "del", n) end
  function h.res_set_header(_, n, v) P.header("res", "set", n, v) end
  function h.res_add_header(_, n, v) P.header("res", "add", n, v) end
  function h.res_del_header(_, n) P.header("res", "del", n) end
  function h.req_set_method(_, v) P.req_set("method", v) end
  function h.req_set_path(_, v) P.req_set("path", v) end
  function h.req_set_query(_, v) P.req_set("query", v) end
  function h.req_set_uri(_, v) P.req_set("uri", v) end
  function h.res_set_status(_, code, reason) P.res_set_status(code, reason) end
  return strict(h, "txn.http")
end

local function common(o, P)
  o.f = fetches(P, false)
  o.sf = fetches(P, true)
  o.c = converters(P, false)
  o.sc = converters(P, true)
  function o.get_var(_, n) return P.get_var(n) end
  function o.set_var(_, n, v, ifexist) return P.set_var(n, v, ifexist) end
  function o.unset_var(_, n) return P.unset_var(n) end
  function o.get_priv(_) return P.get_priv() end
  function o.set_priv(_, v) P.set_priv(v) end
end

local function make_txn(P, with_http)
  local t = {}
  common(t, P)
  if with_http then t.http = http(P) end
  function t.log(_, level, msg) core.log(level, msg) end
  function t.Debug(_, msg) core.Debug(msg) end
  function t.Info(_, msg) core.Info(msg) end
  function t.Warning(_, msg) core.Warning(msg) end
  function t.Alert(_, msg) core.Alert(msg) end
  function t.done(_) core.done() end
  return strict(t, "txn")
end

local function make_applet(P, info)
  local a = {}
  common(a, P)
  for k, v in pairs(info) do a[k] = v end
  function a.set_status(_, code, reason) P.set_status(code, reason) end
  function a.add_header(_, n, v) P.add_header(n, v) end
  function a.start_response(_) P.start_response() end
  function a.send(_, data) P.send(data) end
  function a.receive(_, size) return P.receive(size) end
  function a.getline(_) return P.getline() end
  return strict(a, "applet")
end

strict(core, "core")

act = strict({
  CONTINUE = 0, STOP = 1, YIELD = 2, ERROR = 3, DONE = 4, DENY = 5, ABORT = 6, INVALID = 7,
  wake_time = unsupported("act.wake_time"),
}, "act")

return make_txn, make_applet
