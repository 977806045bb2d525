//! Samples to Lua values and back, as HAProxy's `hlua_smp2lua` and
//! `hlua_lua2smp`: strings and binaries are Lua strings, integers integers,
//! booleans booleans, addresses and methods their text; back from Lua, a
//! number is an integer (a non-integral float gives 0), and nil, a table or
//! a function is the boolean false (so `%[lua.f]` of a fetch returning nil
//! prints `0`, as HAProxy 2.6).

use crate::runtime::eval::Value;
use bytes::Bytes;
use mlua::{Lua, Value as LuaValue};

/// A sample as a Lua value.
pub(crate) fn to_lua(lua: &Lua, v: Value) -> mlua::Result<LuaValue> {
    match v {
        Value::Bool(b) => Ok(LuaValue::Boolean(b)),
        Value::Int(i) => Ok(LuaValue::Integer(i)),
        Value::Str(s) | Value::Bin(s) => lua.create_string(&s[..]).map(LuaValue::String),
        other => match other.into_text() {
            Some(t) => lua.create_string(&t[..]).map(LuaValue::String),
            None => Ok(LuaValue::Nil),
        },
    }
}

/// A sample as a Lua string (`txn.sf`, `txn.sc`): "" when there is none.
pub(crate) fn to_lua_string(lua: &Lua, v: Option<Value>) -> mlua::Result<LuaValue> {
    let text = v.and_then(Value::into_text).unwrap_or_default();
    lua.create_string(&text[..]).map(LuaValue::String)
}

/// A Lua value as a sample.
pub(crate) fn from_lua(v: &LuaValue) -> Value {
    match v {
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(i) => Value::Int(*i),
        LuaValue::Number(n) => {
            // lua_tointeger: only floats with an exact integer value convert.
            if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
                Value::Int(*n as i64)
            } else {
                Value::Int(0)
            }
        }
        LuaValue::String(s) => Value::Str(Bytes::copy_from_slice(&s.as_bytes())),
        _ => Value::Bool(false),
    }
}

/// An argument given to a fetch or converter from Lua, as text.
pub(crate) fn arg_text(v: &LuaValue) -> mlua::Result<String> {
    match v {
        LuaValue::String(s) => Ok(s.to_string_lossy()),
        LuaValue::Integer(i) => Ok(i.to_string()),
        LuaValue::Number(n) => Ok(n.to_string()),
        LuaValue::Boolean(b) => Ok(b.to_string()),
        other => Err(mlua::Error::RuntimeError(format!(
            "a {} cannot be a fetch or converter argument",
            other.type_name()
        ))),
    }
}
