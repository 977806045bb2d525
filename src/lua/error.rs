//! Errors of the Lua layer, and the text of a Lua error as HAProxy shows it
//! (the message, without mlua's wrapping or the Rust side of tracebacks).

/// Why loading the scripts failed.
#[derive(Debug, thiserror::Error)]
pub enum LuaError {
    #[error("error in Lua file '{file}': {message}")]
    Syntax { file: String, message: String },
    #[error("Lua runtime error: {message}")]
    Runtime { file: String, message: String },
    #[error("cannot read Lua file '{file}': {message}")]
    Read { file: String, message: String },
    #[error("cannot set up the Lua state: {0}")]
    Setup(String),
}

impl LuaError {
    pub(crate) fn setup(e: mlua::Error) -> LuaError {
        LuaError::Setup(message(&e))
    }
}

/// The message of a Lua error: `file:line: text`, as Lua formats it.
pub fn message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        // mlua appends a traceback to runtime errors; HAProxy prints the message.
        mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => m
            .split_once("\nstack traceback:")
            .map_or(m.as_str(), |(head, _)| head)
            .to_string(),
        mlua::Error::CallbackError { cause, .. } => message(cause),
        mlua::Error::WithContext { cause, .. } => message(cause),
        other => other.to_string(),
    }
}
