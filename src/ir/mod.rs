//! The typed intermediate representation: what lowering produces from the AST and
//! what the runtime builds a `Generation` from. No text, no sockets; invalid
//! states are unrepresentable where the types allow it.
