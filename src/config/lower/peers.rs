//! Lowering of `peers` sections: the local peer (named by `-L`, the global
//! `localpeer`, else the host name), its listener (`bind`, or the address of
//! its `peer` line), the remote peers with their `default-server` TLS
//! settings, and the stick tables declared with `table`.
//!
//! Messages follow HAProxy 2.6.12 (`haproxy -c`): mixing `peer` and `bind`
//! lines, two local peers, an address on the local `server` line are
//! errors; a section that does not name the local peer is removed with a
//! warning, and a `disabled` one silently, as HAProxy does.

use super::proxy::ProxyBuilder;
use super::{Lowerer, arg, place};
use crate::config::ast::{Section, SectionKind};
use crate::config::keywords::Context;
use crate::config::word::{Line, Word};
use crate::diag::Diagnostic;
use crate::ir::peers::Peers;
use crate::ir::stick::StickTable;

/// A lowered `peers` section, before the tables using it are known.
pub(crate) struct PeersSection {
    pub name: String,
    /// `None` when the section is disabled or does not name the local
    /// peer: tables referring to it are then not synchronised.
    pub active: Option<Peers>,
    /// Tables declared with `table` (named `<section>/<table>`).
    pub tables: Vec<StickTable>,
}

/// Names of the tables declared in `peers` sections (`<section>/<table>`).
pub(crate) fn table_names(section: &Section) -> Vec<String> {
    section
        .lines
        .iter()
        .filter(|l| l.words.first().is_some_and(|w| w.text == "table"))
        .filter_map(|l| l.words.get(1))
        .map(|n| format!("{}/{}", section.name_str(), n.text))
        .collect()
}

pub(crate) fn lower_peers(cx: &mut Lowerer, section: &Section) -> Option<PeersSection> {
    let name = section.name_str().to_string();
    let where_ = place(section);
    let local = cx.local_peer.clone();
    let mut pb = ProxyBuilder::fresh();
    pb.kind = SectionKind::Backend;
    pb.name = name.clone();
    pb.origin = cx.origin(section.span());
    pb.span = section.span();
    let mut bind: Option<(crate::ir::Bind, Word)> = None;
    let mut peer_line = false;
    let mut bind_line = false;
    let mut local_seen: Option<Word> = None;
    let mut disabled = false;
    let mut tables = Vec::new();
    let mut ok = true;
    for line in &section.lines {
        let w = &line.words;
        let kw = &w[0];
        let r: Result<(), Diagnostic> = (|| {
            match kw.text.as_str() {
                "bind" => {
                    cx.note_status(Context::Peers, kw, "bind");
                    if peer_line {
                        return Err(mixing(kw));
                    }
                    bind_line = true;
                    if let Some((_, first)) = &bind {
                        return Err(one_listener(cx, kw, first));
                    }
                    if let Some(b) = super::bind::lower_bind(cx, line, &where_) {
                        bind = Some((b, kw.clone()));
                    }
                    Ok(())
                }
                "default-server" => super::server::lower_server(cx, &mut pb, line, &where_),
                "peer" | "server" => {
                    let peer_name = arg(w, 1, kw, "a peer name")?;
                    if kw.text == "peer" {
                        if bind_line {
                            return Err(mixing(kw));
                        }
                        peer_line = true;
                    }
                    let is_local = peer_name.text == local;
                    if is_local {
                        if let Some(prev) = &local_seen {
                            let at = cx.origin(prev.span);
                            return Err(Diagnostic::error(format!(
                                "'{} {}' : local peer name already referenced at {at}. {}",
                                kw.text, peer_name.text, peer_name.text
                            ))
                            .at(peer_name.span)
                            .help("name the local peer once per peers section"));
                        }
                        local_seen = Some(peer_name.clone());
                        if kw.text == "server" {
                            if let Some(x) = w.get(2) {
                                return Err(Diagnostic::error(format!(
                                    "'server {name}/{}' : unknown keyword '{}'. Hint: no address was expected for this server.",
                                    peer_name.text, x.text
                                ))
                                .at(x.span)
                                .help("the local peer listens on the section's 'bind' line: write 'server <name>' alone"));
                            }
                            return Ok(());
                        }
                        // `peer <local> <addr>`: the address is the listener.
                        let addr = arg(w, 2, kw, "an address")?;
                        if let Some(x) = w.get(3) {
                            return Err(Diagnostic::error(format!(
                                "'peer {}' : option '{}' on the local peer is not supported by portcullis",
                                peer_name.text, x.text
                            ))
                            .at(x.span)
                            .help("use a 'bind' line and 'server' lines to give the local peer options"));
                        }
                        let bl = Line {
                            words: vec![
                                Word {
                                    text: "bind".into(),
                                    span: kw.span,
                                    quoted: false,
                                },
                                addr.clone(),
                            ],
                            span: line.span,
                        };
                        if let Some(b) = super::bind::lower_bind(cx, &bl, &where_) {
                            bind = Some((b, kw.clone()));
                        }
                        return Ok(());
                    }
                    if kw.text == "server" && w.len() == 2 {
                        // HAProxy 2.6 accepts it and has nowhere to connect.
                        cx.warn(
                            peer_name.span,
                            format!(
                                "peer '{}' has no address: it is never connected to",
                                peer_name.text
                            ),
                        );
                        return Ok(());
                    }
                    super::server::lower_server(cx, &mut pb, line, &where_)
                }
                "table" => {
                    let t = arg(w, 1, kw, "a table name")?;
                    let full = format!("{name}/{}", t.text);
                    tables.push(super::stick::table(&full, kw, &w[2..])?);
                    Ok(())
                }
                "disabled" => {
                    disabled = true;
                    Ok(())
                }
                "enabled" => {
                    disabled = false;
                    Ok(())
                }
                _ => {
                    cx.unknown_keyword(Context::Peers, kw, &where_);
                    Ok(())
                }
            }
        })();
        if let Err(d) = r {
            ok = false;
            cx.err(d);
        }
    }
    if !ok {
        return None;
    }
    let active = if disabled {
        None
    } else if local_seen.is_none() {
        cx.warn(
            section.keyword.span,
            format!("Removing incomplete section 'peers {name}' (no peer named '{local}')."),
        );
        None
    } else {
        Some(Peers {
            name: name.clone(),
            origin: pb.origin.clone(),
            local,
            bind: bind.map(|(b, _)| b),
            remotes: pb.servers.clone(),
            tables: Vec::new(),
        })
    };
    Some(PeersSection {
        name,
        active,
        tables,
    })
}

fn mixing(kw: &Word) -> Diagnostic {
    Diagnostic::error("mixing \"peer\" and \"bind\" line is forbidden")
        .at(kw.span)
        .help("either name every peer with 'peer <name> <addr>', or use 'bind' and 'server' lines")
}

fn one_listener(cx: &Lowerer, kw: &Word, first: &Word) -> Diagnostic {
    Diagnostic::error(format!(
        "One listener per \"peers\" section is authorized but another is already configured at [{}].",
        cx.origin(first.span)
    ))
    .at(kw.span)
    .help("keep a single 'bind' line in the peers section")
}

/// Resolves `stick-table … peers <section>` once every section is known,
/// and hands the active sections and their tables to the IR.
pub(crate) fn attach(
    cx: &mut Lowerer,
    config: &mut crate::ir::Config,
    sections: Vec<PeersSection>,
) {
    let mut active: Vec<Peers> = Vec::new();
    let mut names = Vec::new();
    for s in &sections {
        names.push(s.name.clone());
    }
    let mut peer_tables = Vec::new();
    for s in sections {
        let mut tables = s.tables;
        if let Some(mut p) = s.active {
            for t in &mut tables {
                t.peers = Some(p.name.clone());
                p.tables.push(t.name.clone());
            }
            active.push(p);
        }
        peer_tables.extend(tables);
    }
    let commons = config
        .frontends
        .iter_mut()
        .map(|f| &mut f.common)
        .chain(config.backends.iter_mut().map(|b| &mut b.common));
    let mut seen = std::collections::HashSet::new();
    for common in commons {
        let proxy = common.name.clone();
        let Some(t) = common.stick_table.as_mut() else {
            continue;
        };
        let Some(want) = t.peers.clone() else {
            continue;
        };
        if !names.contains(&want) {
            if seen.insert(proxy.clone()) {
                cx.err(
                    Diagnostic::error(format!(
                        "Proxy '{proxy}': unable to find sync peers '{want}'."
                    ))
                    .help("declare a 'peers' section of that name, or remove 'peers' from the stick-table line"),
                );
            }
            continue;
        }
        match active.iter_mut().find(|p| p.name == want) {
            Some(p) => {
                if !p.tables.contains(&t.name) {
                    p.tables.push(t.name.clone());
                }
            }
            // A disabled or incomplete section: the table stays local.
            None => t.peers = None,
        }
    }
    config.peers = active;
    config.peer_tables = peer_tables;
}
