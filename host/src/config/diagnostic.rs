//! Config diagnostics that point at `file:line:col`, with a hint.
//!
//! Syntax and type errors come from the TOML deserializer with a byte span.
//! Semantic errors are raised against a *key path* (`vrrp_instance.VI_1.priority`)
//! and resolved to a span afterwards by walking a span-preserving parse of the same
//! text, so validators never have to carry spans around themselves.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a key path into the TOML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_owned())
    }
}
impl From<String> for Seg {
    fn from(s: String) -> Self {
        Seg::Key(s)
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Builds a key path: `key_path!["check", name, "interval"]`.
#[macro_export]
macro_rules! key_path {
    ($($seg:expr),* $(,)?) => {
        vec![$($crate::config::diagnostic::Seg::from($seg)),*]
    };
}

/// A single config problem, located in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no place in the file (e.g. it is unreadable).
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one config file; a file is only accepted with none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects semantic errors during validation and resolves their key paths.
pub struct Diagnostics<'a> {
    file: &'a Path,
    source: &'a str,
    tree: Option<Spanned<DeTable<'a>>>,
    errors: Vec<ConfigError>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Self {
            file,
            source,
            tree: DeTable::parse(source).ok(),
            errors: Vec::new(),
        }
    }

    /// Reports a problem with the value at `path` (or its nearest existing ancestor).
    pub fn error(&mut self, path: Vec<Seg>, message: impl Into<String>, hint: Option<String>) {
        let span = self.tree.as_ref().and_then(|t| locate(t, &path));
        self.errors.push(self.at_span(span, message.into(), hint));
    }

    /// Reports a problem at a byte span of the source (as the deserializer gives them).
    pub fn error_at(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.errors.push(self.at_span(span, message.into(), hint));
    }

    fn at_span(
        &self,
        span: Option<Range<usize>>,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        let (line, col) = span.map_or((0, 0), |s| line_col(self.source, s.start));
        ConfigError {
            file: self.file.to_path_buf(),
            line,
            col,
            message,
            hint,
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Span of the value at `path`; falls back to the deepest key that exists, so an
/// error about a missing key points at the table that should hold it.
fn locate(root: &Spanned<DeTable<'_>>, path: &[Seg]) -> Option<Range<usize>> {
    let mut best = None;
    let mut table = root.get_ref();
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    for seg in path {
        let next = match (seg, current.map(|v| v.get_ref())) {
            (Seg::Key(k), None) => table
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str()),
            (Seg::Key(k), Some(DeValue::Table(t))) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str()),
            (Seg::Index(i), Some(DeValue::Array(a))) => {
                let v = a.get(*i)?;
                best = Some(v.span());
                current = Some(v);
                continue;
            }
            _ => None,
        };
        let Some((key, value)) = next else { break };
        // For scalars point at the value; for tables point at the key (the header).
        best = Some(match value.get_ref() {
            DeValue::Table(_) => key.span(),
            _ => value.span(),
        });
        if let DeValue::Table(t) = value.get_ref() {
            table = t;
        }
        current = Some(value);
    }
    best
}

/// Closest candidate by edit distance, for "did you mean" hints.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[global]\nrouter_id = \"a\"\n\n[check.web]\nplugin = \"http\"\ninterval = \"1x\"\nlist = [1, 2, 3]\n";

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("abc\ndef", 0), (1, 1));
        assert_eq!(line_col("abc\ndef", 5), (2, 2));
    }

    #[test]
    fn locates_scalar_values_and_array_items() {
        let mut d = Diagnostics::new(Path::new("f.toml"), SRC);
        d.error(crate::key_path!["check", "web", "interval"], "bad", None);
        d.error(
            crate::key_path!["check", "web", "list", 2usize],
            "bad",
            None,
        );
        d.error(crate::key_path!["check", "web", "missing"], "bad", None);
        let errs = d.finish().unwrap_err().0;
        assert_eq!((errs[0].line, errs[0].col), (6, 12));
        assert_eq!((errs[1].line, errs[1].col), (7, 15));
        // Missing key: points at the table header key `web`.
        assert_eq!((errs[2].line, errs[2].col), (4, 8));
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(
            did_you_mean("intreval", ["interval", "timeout"]),
            Some("interval")
        );
        assert_eq!(did_you_mean("zzz", ["interval", "timeout"]), None);
    }
}
