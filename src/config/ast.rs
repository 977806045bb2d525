//! AST: the configuration as sections of lines, every word spanned.
//!
//! Produced by [`super::parser`], consumed by lowering. Keyword-specific
//! structure is not decided here: the keyword table and lowering own it, so the
//! AST stays a faithful picture of the text.

use super::word::{Line, Word};
use crate::diag::Span;

/// The kind of a section, from its first word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Global,
    Defaults,
    Frontend,
    Backend,
    Listen,
    Userlist,
    /// `peers <name>`: stick-table synchronisation.
    Peers,
    Resolvers,
    /// A section HAProxy 2.6 has but portcullis does not support (`peers`,
    /// `cache`, …); lowering rejects it by name.
    Unsupported,
}

impl SectionKind {
    /// The section word as written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Global => "global",
            SectionKind::Defaults => "defaults",
            SectionKind::Frontend => "frontend",
            SectionKind::Backend => "backend",
            SectionKind::Listen => "listen",
            SectionKind::Userlist => "userlist",
            SectionKind::Peers => "peers",
            SectionKind::Resolvers => "resolvers",
            SectionKind::Unsupported => "unsupported",
        }
    }

    /// True for the sections that hold proxy keywords.
    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            SectionKind::Defaults
                | SectionKind::Frontend
                | SectionKind::Backend
                | SectionKind::Listen
        )
    }
}

/// One section: its header line and the statements under it.
#[derive(Clone, Debug)]
pub struct Section {
    pub kind: SectionKind,
    /// The section keyword as written (`frontend`, `peers`, …).
    pub keyword: Word,
    /// The section name (`frontend fe` → `fe`); optional for `defaults`.
    pub name: Option<Word>,
    /// `from <defaults>` of a proxy or defaults section.
    pub from: Option<Word>,
    /// The whole header line.
    pub header: Line,
    /// Statements, in order.
    pub lines: Vec<Line>,
}

impl Section {
    /// The name, or `""` for anonymous defaults.
    pub fn name_str(&self) -> &str {
        self.name.as_ref().map(|w| w.text.as_str()).unwrap_or("")
    }

    /// Where the section starts.
    pub fn span(&self) -> Span {
        self.header.span
    }

    /// How messages name this section: `frontend 'fe'`, `global section`.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.name) {
            (SectionKind::Global, _) => "global section".to_string(),
            (SectionKind::Defaults, None) => "anonymous defaults section".to_string(),
            (_, Some(n)) => format!("{} '{}'", self.keyword.text, n.text),
            (_, None) => format!("{} section", self.keyword.text),
        }
    }
}

/// A whole configuration: the sections of every file, in load order.
#[derive(Clone, Debug, Default)]
pub struct ConfigAst {
    pub sections: Vec<Section>,
}
