//! A small YAML document tree that remembers where every node was written.
//!
//! Built from `saphyr-parser` events. Scalars stay text: the decoder decides
//! what a value means (so `no` is never silently `false`, and `08:00` never a
//! number), and reports problems at the node's line and column. Aliases are
//! expanded under a node budget, so a "billion laughs" file is an error, not
//! an out-of-memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Nodes a document may hold once aliases are expanded.
const NODE_BUDGET: usize = 200_000;

/// The longest value (or key) a rota file may hold, in characters: far more
/// than any name, time, rule or reason needs, and it keeps every message
/// that quotes a value short enough to read.
pub const MAX_SCALAR_CHARS: usize = 4096;

/// A place in a file: line and column, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar's text; `plain` when it was written unquoted.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// In a mapping, the value written for `key` (not null), if any.
    pub fn as_map_get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, v)| k.as_str() == Some(key) && !v.is_null())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// An unquoted `~`, `null` or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "nothing",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A syntax error with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Open {
    Seq(Vec<Node>, Pos, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Pos, usize),
}

/// Parses `text` as a single YAML document. An empty file is `None`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut budget = NODE_BUDGET;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let at = pos(&span);
        let done = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        pos: at,
                        message: "only one YAML document per file is allowed".into(),
                    });
                }
                None
            }
            Event::Scalar(text, style, anchor, _) => {
                if text.len() > MAX_SCALAR_CHARS {
                    let n = text.chars().count();
                    if n > MAX_SCALAR_CHARS {
                        return Err(SyntaxError {
                            pos: at,
                            message: format!("a value of {n} characters; at most {MAX_SCALAR_CHARS} are accepted"),
                        });
                    }
                }
                let node = Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    pos: at,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => {
                let Some(node) = anchors.get(&id) else {
                    return Err(SyntaxError {
                        pos: at,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                let size = count(node);
                if size > budget {
                    return Err(SyntaxError {
                        pos: at,
                        message: format!(
                            "aliases expand this file beyond {NODE_BUDGET} values; write it out or split it"
                        ),
                    });
                }
                budget -= size;
                Some(node.clone())
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq(Vec::new(), at, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map(Vec::new(), None, at, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Open::Seq(items, p, a)) => (
                        Node {
                            value: Value::Seq(items),
                            pos: p,
                        },
                        a,
                    ),
                    Some(Open::Map(items, _, p, a)) => (
                        Node {
                            value: Value::Map(items),
                            pos: p,
                        },
                        a,
                    ),
                    None => {
                        return Err(SyntaxError {
                            pos: at,
                            message: "unbalanced collection".into(),
                        });
                    }
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            _ => None,
        };
        if let Some(node) = done {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return Err(SyntaxError {
                    pos: at,
                    message: format!("file holds more than {NODE_BUDGET} values"),
                });
            }
            match stack.last_mut() {
                Some(Open::Seq(items, ..)) => items.push(node),
                Some(Open::Map(items, key, ..)) => match key.take() {
                    Some(k) => items.push((k, node)),
                    None => *key = Some(node),
                },
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(items) => 1 + items.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let doc = parse("team: payments\nrotas:\n  primary:\n    members: [alice]\n")
            .unwrap()
            .unwrap();
        let Value::Map(items) = &doc.value else { panic!() };
        assert_eq!(items[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Map(rotas) = &items[1].1.value else { panic!() };
        assert_eq!(rotas[0].0.pos, Pos { line: 3, col: 3 });
    }

    #[test]
    fn empty_value_is_null() {
        let doc = parse("a:\nb: ~\n").unwrap().unwrap();
        let Value::Map(items) = &doc.value else { panic!() };
        assert!(items[0].1.is_null() && items[1].1.is_null());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err:?}");
    }

    #[test]
    fn long_values_are_refused_where_they_start() {
        let long = "é".repeat(MAX_SCALAR_CHARS);
        assert!(parse(&format!("a: {long}\n")).is_ok());
        let err = parse(&format!("a: b\nc: x{long}\n")).unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, col: 4 });
        assert_eq!(err.message, "a value of 4097 characters; at most 4096 are accepted");
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
    }
}
