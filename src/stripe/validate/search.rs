//! Parses and validates Stripe Search Query Language strings for `GET /v1/payment_intents/search?query=…`.
//!
//! The grammar follows Stripe's search docs (see `stripe-api-facts.md` §5): a query is one or more
//! clauses `field operator value`, each optionally negated with a leading `-`, joined by whitespace
//! (implicit AND) or by the keywords `AND` / `OR` (case-insensitive), never both AND and OR in one
//! query, with no parentheses. Only the Payment Intents fields are accepted, each with the operators
//! its type allows.
//!
//! Every position in a [`SearchError`] is a 0-based offset in *characters* (not bytes) into the query.
//! The parser is total: any input yields `Ok` or `Err`, never a panic.

use std::fmt;

/// Longest query accepted, in characters: the API's `maxLength` for `query`.
pub const MAX_QUERY_CHARS: usize = 5000;

/// Most clauses accepted in one query. This limit is ours: Stripe documents no exact number.
pub const MAX_CLAUSES: usize = 10;

/// Shortest value, in characters, that the substring operator `~` accepts.
pub const MIN_SUBSTRING_CHARS: usize = 3;

/// A parsed, validated search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// How the clauses combine; [`Combinator::And`] when there is a single clause or only whitespace.
    pub combinator: Combinator,
    /// The clauses, in the order written; never empty.
    pub clauses: Vec<Clause>,
}

/// How the clauses of a query combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combinator {
    /// Every clause must match (whitespace or `AND`).
    And,
    /// At least one clause must match (`OR`).
    Or,
}

/// One `field operator value` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Whether the clause was prefixed with `-`.
    pub negated: bool,
    /// The field searched.
    pub field: Field,
    /// The comparison.
    pub op: Operator,
    /// The value compared against, normalised for the field's type.
    pub value: Value,
}

/// A searchable Payment Intents field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `amount` (numeric).
    Amount,
    /// `created` (numeric, Unix time).
    Created,
    /// `currency` (token).
    Currency,
    /// `customer` (token).
    Customer,
    /// `status` (token).
    Status,
    /// `metadata["key"]` (token); holds the unescaped key.
    Metadata(String),
}

impl Field {
    /// Whether the field is numeric (accepts comparisons) rather than a token (exact match only).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Field::Amount | Field::Created)
    }

    /// Whether `op` may be used on this field.
    pub fn allows(&self, op: Operator) -> bool {
        match op {
            Operator::Exact => true,
            // `~` is for string fields; Payment Intents has none.
            Operator::Substring => false,
            Operator::Gt | Operator::Lt | Operator::Gte | Operator::Lte => self.is_numeric(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Amount => f.write_str("amount"),
            Field::Created => f.write_str("created"),
            Field::Currency => f.write_str("currency"),
            Field::Customer => f.write_str("customer"),
            Field::Status => f.write_str("status"),
            Field::Metadata(key) => write!(f, "metadata[\"{}\"]", key.escape_debug()),
        }
    }
}

/// A search operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `:` exact match.
    Exact,
    /// `~` substring match (string fields only).
    Substring,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
    /// `>=`.
    Gte,
    /// `<=`.
    Lte,
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Exact => ":",
            Operator::Substring => "~",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Gte => ">=",
            Operator::Lte => "<=",
        })
    }
}

/// A clause's value, normalised for its field's type: numeric fields get [`Value::Number`] (from a
/// quoted or unquoted number), token fields get [`Value::Text`] (an unquoted number is kept as its
/// digits), and `null` / `NULL` becomes [`Value::Null`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string value, unescaped.
    Text(String),
    /// An integer value for a numeric field.
    Number(i64),
    /// `null` / `NULL`: tests whether the field is present.
    Null,
}

/// Why a query is not a valid Payment Intents search query. Positions are 0-based character offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The query is empty or only whitespace.
    #[error("the query is empty; write at least one clause such as status:\"succeeded\"")]
    EmptyQuery,
    /// The query exceeds [`MAX_QUERY_CHARS`].
    #[error("the query is {chars} characters long; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    /// The query has more than [`MAX_CLAUSES`] clauses.
    #[error("too many clauses: clause {} starts at {pos}, but at most {max} are allowed", .max + 1)]
    TooManyClauses { pos: usize, max: usize },
    /// A field was expected but something that cannot start one was found.
    #[error("expected a field at {pos}, found {}{}", show_char(*.found), paren_hint(*.found))]
    MissingField { pos: usize, found: Option<char> },
    /// `AND` / `OR` where a clause should start.
    #[error("unexpected `{keyword}` at {pos}; `AND`/`OR` must sit between two clauses")]
    MisplacedKeyword { pos: usize, keyword: String },
    /// `AND` / `OR` at the end of the query.
    #[error("the query ends after `{keyword}` at {pos}; a clause must follow it")]
    DanglingKeyword { pos: usize, keyword: String },
    /// A field name that Payment Intents search does not know.
    #[error(
        "unknown field `{}` at {pos}; Payment Intents can be searched by amount, created, currency, customer, \
         metadata[\"key\"], status",
        show_str(.found)
    )]
    UnknownField { pos: usize, found: String },
    /// `metadata` without a `["key"]`.
    #[error("`metadata` at {pos} needs a key, as in metadata[\"key\"]:\"value\"")]
    BareMetadata { pos: usize },
    /// `metadata[` not followed by a quoted key and `]`.
    #[error("malformed metadata key at {pos}: expected {expected}, found {}", show_char(*.found))]
    MalformedMetadataKey {
        pos: usize,
        expected: &'static str,
        found: Option<char>,
    },
    /// `metadata[""]`.
    #[error("the metadata key at {pos} is empty")]
    EmptyMetadataKey { pos: usize },
    /// A field not followed by an operator.
    #[error(
        "expected an operator (`:`, `~`, `>`, `<`, `>=`, `<=`) after `{field}` at {pos}, found {}",
        show_char(*.found)
    )]
    MissingOperator {
        pos: usize,
        field: Field,
        found: Option<char>,
    },
    /// An operator the field's type does not support.
    #[error("operator `{op}` at {pos} cannot be used on `{field}`; {}", allowed_ops(.field))]
    OperatorNotAllowed { pos: usize, field: Field, op: Operator },
    /// An operator with nothing after it.
    #[error("expected a value after `{op}` at {pos}, found {}", show_char(*.found))]
    MissingValue {
        pos: usize,
        op: Operator,
        found: Option<char>,
    },
    /// An unquoted value that is neither a number nor `null`.
    #[error("unquoted value `{}` at {pos}; string values must be quoted, as in \"{}\"", show_str(.found), show_str(.found))]
    UnquotedValue { pos: usize, found: String },
    /// A quoted string without its closing quote.
    #[error("the string opened by `{quote}` at {pos} is never closed")]
    UnterminatedString { pos: usize, quote: char },
    /// A `~` value shorter than [`MIN_SUBSTRING_CHARS`].
    #[error(
        "the substring value `{}` at {pos} is {chars} characters long; `~` needs at least {min}",
        show_str(.found)
    )]
    SubstringTooShort {
        pos: usize,
        found: String,
        chars: usize,
        min: usize,
    },
    /// `null` with an operator other than `:`.
    #[error("`null` at {pos} can only be used with `:`, not `{op}`")]
    NullNotAllowed { pos: usize, op: Operator },
    /// A numeric field compared with something that is not an integer.
    #[error("`{field}` is numeric but the value `{}` at {pos} is not an integer", show_str(.found))]
    NotANumber { pos: usize, field: Field, found: String },
    /// An integer that does not fit in 64 bits.
    #[error("the number `{}` at {pos} is out of range", show_str(.found))]
    NumberOutOfRange { pos: usize, found: String },
    /// `AND` and `OR` both used in one query (whitespace counts as `AND`).
    #[error("{second} at {pos} cannot be combined with the earlier {first}; a query uses either AND or OR, not both")]
    MixedAndOr { pos: usize, first: String, second: String },
    /// Something directly after a value, where whitespace or the end of the query was expected.
    #[error("unexpected {} at {pos} right after a value; separate clauses with a space, `AND` or `OR`", show_char(Some(*.found)))]
    TrailingInput { pos: usize, found: char },
}

/// Describes a possibly-missing character for an error message.
fn show_char(c: Option<char>) -> String {
    match c {
        None => "the end of the query".to_owned(),
        Some(c) => format!("`{}`", escape_char(c)),
    }
}

/// Escapes control and other invisible characters; leaves quotes and backslashes alone.
fn escape_char(c: char) -> String {
    match c {
        '"' | '\'' | '\\' => c.to_string(),
        _ => c.escape_debug().to_string(),
    }
}

/// Adds a hint when the user tried parentheses.
fn paren_hint(c: Option<char>) -> &'static str {
    match c {
        Some('(' | ')') => " (parentheses are not supported)",
        _ => "",
    }
}

/// Escapes and truncates user text for an error message.
fn show_str(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).map(escape_char).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// Lists the operators a field accepts, for an error message.
fn allowed_ops(field: &Field) -> &'static str {
    if field.is_numeric() {
        "numeric fields accept `:`, `>`, `<`, `>=` and `<=`"
    } else {
        "it accepts only `:` (exact match)"
    }
}

/// A value as written, before it is checked against the field's type.
enum RawValue {
    Quoted(String),
    Number(String),
    Null,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Skips whitespace; returns whether any was skipped.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// If an `AND` / `OR` keyword (any case) followed by whitespace or the end starts here, returns it
    /// and its combinator without consuming it.
    fn keyword(&self) -> Option<(String, Combinator)> {
        for (len, comb) in [(3, Combinator::And), (2, Combinator::Or)] {
            let end = self.pos + len;
            let Some(word) = self.chars.get(self.pos..end) else {
                continue;
            };
            let word: String = word.iter().collect();
            let matches = match comb {
                Combinator::And => word.eq_ignore_ascii_case("and"),
                Combinator::Or => word.eq_ignore_ascii_case("or"),
            };
            if matches && self.chars.get(end).is_none_or(|c| c.is_whitespace()) {
                return Some((word, comb));
            }
        }
        None
    }

    fn query(&mut self) -> Result<Query, SearchError> {
        // Set once an explicit keyword or implicit whitespace AND joins two clauses: (how it was
        // written, combinator).
        let mut joined: Option<(String, Combinator)> = None;
        let mut clauses = Vec::new();
        self.skip_ws();
        loop {
            if clauses.len() == MAX_CLAUSES {
                return Err(SearchError::TooManyClauses {
                    pos: self.pos,
                    max: MAX_CLAUSES,
                });
            }
            clauses.push(self.clause()?);
            let had_ws = self.skip_ws();
            let Some(c) = self.peek() else { break };
            if !had_ws {
                return Err(SearchError::TrailingInput {
                    pos: self.pos,
                    found: c,
                });
            }
            let sep_pos = self.pos;
            let (written, comb) = match self.keyword() {
                Some((word, comb)) => {
                    self.pos += word.chars().count();
                    self.skip_ws();
                    if self.at_end() {
                        return Err(SearchError::DanglingKeyword {
                            pos: sep_pos,
                            keyword: word,
                        });
                    }
                    (format!("`{word}`"), comb)
                }
                None => ("whitespace (implicit AND)".to_owned(), Combinator::And),
            };
            match &joined {
                Some((first, prev)) if *prev != comb => {
                    return Err(SearchError::MixedAndOr {
                        pos: sep_pos,
                        first: first.clone(),
                        second: written,
                    });
                }
                Some(_) => {}
                None => joined = Some((written, comb)),
            }
        }
        let combinator = joined.map_or(Combinator::And, |(_, c)| c);
        Ok(Query { combinator, clauses })
    }

    fn clause(&mut self) -> Result<Clause, SearchError> {
        let negated = self.peek() == Some('-');
        if negated {
            self.pos += 1;
        }
        let field = self.field()?;
        self.skip_ws();
        let op_pos = self.pos;
        let op = self.operator(&field)?;
        self.skip_ws();
        let value_pos = self.pos;
        let raw = self.value(op)?;
        let value = check_value(&field, op, op_pos, raw, value_pos)?;
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }

    fn field(&mut self) -> Result<Field, SearchError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(SearchError::MissingField {
                pos: start,
                found: self.peek(),
            });
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        match name.as_str() {
            "amount" => Ok(Field::Amount),
            "created" => Ok(Field::Created),
            "currency" => Ok(Field::Currency),
            "customer" => Ok(Field::Customer),
            "status" => Ok(Field::Status),
            "metadata" => self.metadata_key(start),
            _ if name.eq_ignore_ascii_case("and") || name.eq_ignore_ascii_case("or") => {
                Err(SearchError::MisplacedKeyword {
                    pos: start,
                    keyword: name,
                })
            }
            _ => Err(SearchError::UnknownField {
                pos: start,
                found: name,
            }),
        }
    }

    /// Parses `["key"]` / `['key']` after `metadata` (which started at `start`).
    fn metadata_key(&mut self, start: usize) -> Result<Field, SearchError> {
        if self.peek() != Some('[') {
            return Err(SearchError::BareMetadata { pos: start });
        }
        self.pos += 1;
        let key_pos = self.pos;
        if !matches!(self.peek(), Some('"' | '\'')) {
            return Err(SearchError::MalformedMetadataKey {
                pos: self.pos,
                expected: "a quoted key after `[`",
                found: self.peek(),
            });
        }
        let key = self.quoted()?;
        if self.peek() != Some(']') {
            return Err(SearchError::MalformedMetadataKey {
                pos: self.pos,
                expected: "`]` after the key",
                found: self.peek(),
            });
        }
        self.pos += 1;
        if key.is_empty() {
            return Err(SearchError::EmptyMetadataKey { pos: key_pos });
        }
        Ok(Field::Metadata(key))
    }

    fn operator(&mut self, field: &Field) -> Result<Operator, SearchError> {
        let (op, len) = match (self.peek(), self.peek_at(1)) {
            (Some('>'), Some('=')) => (Operator::Gte, 2),
            (Some('<'), Some('=')) => (Operator::Lte, 2),
            (Some('>'), _) => (Operator::Gt, 1),
            (Some('<'), _) => (Operator::Lt, 1),
            (Some(':'), _) => (Operator::Exact, 1),
            (Some('~'), _) => (Operator::Substring, 1),
            (found, _) => {
                return Err(SearchError::MissingOperator {
                    pos: self.pos,
                    field: field.clone(),
                    found,
                })
            }
        };
        self.pos += len;
        Ok(op)
    }

    fn value(&mut self, op: Operator) -> Result<RawValue, SearchError> {
        let start = self.pos;
        match self.peek() {
            None => Err(SearchError::MissingValue {
                pos: start,
                op,
                found: None,
            }),
            Some('"' | '\'') => self.quoted().map(RawValue::Quoted),
            Some(_) => {
                while self.peek().is_some_and(|c| !c.is_whitespace() && c != '"' && c != '\'') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                if word == "null" || word == "NULL" {
                    Ok(RawValue::Null)
                } else if is_integer(&word) {
                    Ok(RawValue::Number(word))
                } else {
                    Err(SearchError::UnquotedValue {
                        pos: start,
                        found: word,
                    })
                }
            }
        }
    }

    /// Reads a string quoted with `"` or `'` (the current char), unescaping `\"`, `\'` and `\\`;
    /// any other backslash is kept literally.
    fn quoted(&mut self) -> Result<String, SearchError> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(SearchError::MissingValue {
                pos: start,
                op: Operator::Exact,
                found: None,
            });
        };
        self.pos += 1;
        let unterminated = SearchError::UnterminatedString { pos: start, quote };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(unterminated);
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c == '\\' {
                let Some(next) = self.peek() else {
                    return Err(unterminated);
                };
                self.pos += 1;
                if !matches!(next, '"' | '\'' | '\\') {
                    out.push('\\');
                }
                out.push(next);
            } else {
                out.push(c);
            }
        }
    }
}

/// Whether `s` is an optionally negative run of ASCII digits.
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a value against the operator and the field's type, and normalises it.
fn check_value(field: &Field, op: Operator, op_pos: usize, raw: RawValue, pos: usize) -> Result<Value, SearchError> {
    if matches!(raw, RawValue::Null) && op != Operator::Exact {
        return Err(SearchError::NullNotAllowed { pos, op });
    }
    if op == Operator::Substring {
        let text = match &raw {
            RawValue::Quoted(s) | RawValue::Number(s) => s.as_str(),
            RawValue::Null => "",
        };
        let chars = text.chars().count();
        if chars < MIN_SUBSTRING_CHARS {
            return Err(SearchError::SubstringTooShort {
                pos,
                found: text.to_owned(),
                chars,
                min: MIN_SUBSTRING_CHARS,
            });
        }
    }
    if !field.allows(op) {
        return Err(SearchError::OperatorNotAllowed {
            pos: op_pos,
            field: field.clone(),
            op,
        });
    }
    match raw {
        RawValue::Null => Ok(Value::Null),
        RawValue::Quoted(s) if field.is_numeric() => {
            if is_integer(&s) {
                to_number(s, pos)
            } else {
                Err(SearchError::NotANumber {
                    pos,
                    field: field.clone(),
                    found: s,
                })
            }
        }
        RawValue::Number(s) if field.is_numeric() => to_number(s, pos),
        RawValue::Quoted(s) | RawValue::Number(s) => Ok(Value::Text(s)),
    }
}

fn to_number(s: String, pos: usize) -> Result<Value, SearchError> {
    s.parse::<i64>()
        .map(Value::Number)
        .map_err(|_| SearchError::NumberOutOfRange { pos, found: s })
}

/// Parses and validates a Payment Intents search query.
pub fn parse(query: &str) -> Result<Query, SearchError> {
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::TooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    if query.trim().is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    Parser {
        chars: query.chars().collect(),
        pos: 0,
    }
    .query()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(negated: bool, field: Field, op: Operator, value: Value) -> Clause {
        Clause {
            negated,
            field,
            op,
            value,
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn meta(k: &str) -> Field {
        Field::Metadata(k.to_owned())
    }

    #[test]
    fn valid_queries() {
        use Combinator::{And, Or};
        use Field::*;
        use Operator::*;
        let cases: Vec<(&str, Combinator, Vec<Clause>)> = vec![
            ("amount>1000", And, vec![clause(false, Amount, Gt, Value::Number(1000))]),
            (
                "amount>=\"10\"",
                And,
                vec![clause(false, Amount, Gte, Value::Number(10))],
            ),
            ("amount<='10'", And, vec![clause(false, Amount, Lte, Value::Number(10))]),
            ("amount<-5", And, vec![clause(false, Amount, Lt, Value::Number(-5))]),
            (
                "amount:1000",
                And,
                vec![clause(false, Amount, Exact, Value::Number(1000))],
            ),
            (
                "currency:\"usd\"",
                And,
                vec![clause(false, Currency, Exact, text("usd"))],
            ),
            ("currency:'usd'", And, vec![clause(false, Currency, Exact, text("usd"))]),
            (
                "  currency:'usd'  ",
                And,
                vec![clause(false, Currency, Exact, text("usd"))],
            ),
            (
                "-currency:\"usd\"",
                And,
                vec![clause(true, Currency, Exact, text("usd"))],
            ),
            (
                "status:\"succeeded\" AND metadata[\"order_id\"]:\"6735\"",
                And,
                vec![
                    clause(false, Status, Exact, text("succeeded")),
                    clause(false, meta("order_id"), Exact, text("6735")),
                ],
            ),
            (
                "metadata['key']:'value'",
                And,
                vec![clause(false, meta("key"), Exact, text("value"))],
            ),
            (
                "-metadata[\"k\"]:null",
                And,
                vec![clause(true, meta("k"), Exact, Value::Null)],
            ),
            (
                "metadata[\"k\"]:NULL",
                And,
                vec![clause(false, meta("k"), Exact, Value::Null)],
            ),
            (
                "metadata[\"k\"]:007",
                And,
                vec![clause(false, meta("k"), Exact, text("007"))],
            ),
            (
                "customer:\"cus_123\" OR customer:\"cus_456\"",
                Or,
                vec![
                    clause(false, Customer, Exact, text("cus_123")),
                    clause(false, Customer, Exact, text("cus_456")),
                ],
            ),
            (
                "customer:\"cus_1\" or customer:\"cus_2\" Or customer:\"cus_3\"",
                Or,
                vec![
                    clause(false, Customer, Exact, text("cus_1")),
                    clause(false, Customer, Exact, text("cus_2")),
                    clause(false, Customer, Exact, text("cus_3")),
                ],
            ),
            (
                "created>=1700000000 created<1800000000",
                And,
                vec![
                    clause(false, Created, Gte, Value::Number(1_700_000_000)),
                    clause(false, Created, Lt, Value::Number(1_800_000_000)),
                ],
            ),
            (
                "created>=1700000000 and\tcreated<1800000000 AND amount>0",
                And,
                vec![
                    clause(false, Created, Gte, Value::Number(1_700_000_000)),
                    clause(false, Created, Lt, Value::Number(1_800_000_000)),
                    clause(false, Amount, Gt, Value::Number(0)),
                ],
            ),
            (
                r#"metadata["a\"b"]:"say \"hi\"""#,
                And,
                vec![clause(false, meta("a\"b"), Exact, text("say \"hi\""))],
            ),
            (
                r"metadata['it\'s']:'it\'s \\ \n'",
                And,
                vec![clause(false, meta("it's"), Exact, text("it's \\ \\n"))],
            ),
            (
                "metadata[\"клиент\"]:\"é\"",
                And,
                vec![clause(false, meta("клиент"), Exact, text("é"))],
            ),
            (
                "metadata[\"a b]\"]:\"x y\"",
                And,
                vec![clause(false, meta("a b]"), Exact, text("x y"))],
            ),
            ("status:''", And, vec![clause(false, Status, Exact, text(""))]),
            // Whitespace around the operator is tolerated.
            (
                "amount > 1000",
                And,
                vec![clause(false, Amount, Gt, Value::Number(1000))],
            ),
        ];
        for (input, combinator, clauses) in cases {
            let got = parse(input);
            assert_eq!(got, Ok(Query { combinator, clauses }), "input: {input}");
        }
    }

    #[test]
    fn max_clauses_accepted() {
        let q = ["amount>1"; MAX_CLAUSES].join(" ");
        assert_eq!(parse(&q).map(|q| q.clauses.len()), Ok(MAX_CLAUSES));
    }

    /// Each case: input, expected variant name, expected position (None for position-less variants).
    #[test]
    fn invalid_queries() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("", "EmptyQuery", None),
            ("   \t\n", "EmptyQuery", None),
            ("colour:\"red\"", "UnknownField", Some(0)),
            ("Amount>1", "UnknownField", Some(0)),
            ("metadata.key:\"x\"", "UnknownField", Some(0)),
            ("currency:\"usd\" description:\"x\"", "UnknownField", Some(15)),
            ("metadata[\"клиент\"]:\"é\" colour:\"x\"", "UnknownField", Some(23)),
            ("currency~\"usdx\"", "OperatorNotAllowed", Some(8)),
            ("status~\"succ\"", "OperatorNotAllowed", Some(6)),
            ("amount~\"1000\"", "OperatorNotAllowed", Some(6)),
            ("currency>\"usd\"", "OperatorNotAllowed", Some(8)),
            ("metadata[\"k\"]<=\"5\"", "OperatorNotAllowed", Some(13)),
            ("customer~\"ab\"", "SubstringTooShort", Some(9)),
            ("currency:\"usd\" AND status:\"x\" OR amount>1", "MixedAndOr", Some(30)),
            ("currency:\"usd\" OR status:\"x\" amount>1", "MixedAndOr", Some(29)),
            ("currency:\"usd\" status:\"x\" OR amount>1", "MixedAndOr", Some(26)),
            ("currency:usd", "UnquotedValue", Some(9)),
            ("amount>10.5", "UnquotedValue", Some(7)),
            ("amount>1e3", "UnquotedValue", Some(7)),
            ("currency:\"usd", "UnterminatedString", Some(9)),
            ("currency:'usd\"", "UnterminatedString", Some(9)),
            ("currency:\"usd\\\"", "UnterminatedString", Some(9)),
            ("metadata[\"k", "UnterminatedString", Some(9)),
            ("metadata:\"x\"", "BareMetadata", Some(0)),
            ("-metadata:null", "BareMetadata", Some(1)),
            ("metadata[k]:\"x\"", "MalformedMetadataKey", Some(9)),
            ("metadata[\"k\":\"x\"", "MalformedMetadataKey", Some(12)),
            ("metadata[\"\"]:\"x\"", "EmptyMetadataKey", Some(9)),
            ("currency:\"usd\" AND", "DanglingKeyword", Some(15)),
            ("currency:\"usd\" or   ", "DanglingKeyword", Some(15)),
            ("AND currency:\"usd\"", "MisplacedKeyword", Some(0)),
            ("currency:\"usd\" AND OR status:\"x\"", "MisplacedKeyword", Some(19)),
            ("amount>", "MissingValue", Some(7)),
            ("amount>   ", "MissingValue", Some(10)),
            ("amount", "MissingOperator", Some(6)),
            ("amount=5", "MissingOperator", Some(6)),
            ("metadata[\"k\"]", "MissingOperator", Some(13)),
            ("currency:\"usd\"x", "TrailingInput", Some(14)),
            ("amount>10\"5\"", "TrailingInput", Some(9)),
            ("currency:\"usd\")", "TrailingInput", Some(14)),
            ("(currency:\"usd\")", "MissingField", Some(0)),
            (":\"usd\"", "MissingField", Some(0)),
            ("- amount>1", "MissingField", Some(1)),
            ("-", "MissingField", Some(1)),
            ("\"", "MissingField", Some(0)),
            ("amount>null", "NullNotAllowed", Some(7)),
            ("amount:\"ten\"", "NotANumber", Some(7)),
            ("amount:\"\"", "NotANumber", Some(7)),
            ("amount>99999999999999999999", "NumberOutOfRange", Some(7)),
        ];
        for &(input, variant, pos) in cases {
            let err = match parse(input) {
                Ok(q) => panic!("{input:?} parsed as {q:?}, expected {variant}"),
                Err(e) => e,
            };
            let debug = format!("{err:?}");
            let name = debug.split([' ', '{', '(']).next().unwrap_or("");
            assert_eq!(name, variant, "input {input:?}: {err}");
            if let Some(pos) = pos {
                assert!(
                    debug.contains(&format!("pos: {pos},")) || debug.contains(&format!("pos: {pos} }}")),
                    "input {input:?}: wrong position in {debug}"
                );
            }
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn limits() {
        let long = format!("metadata[\"k\"]:\"{}\"", "x".repeat(MAX_QUERY_CHARS));
        assert!(matches!(parse(&long), Err(SearchError::TooLong { .. })));
        // Exactly at the limit, counted in characters rather than bytes.
        let body = "é".repeat(MAX_QUERY_CHARS - 16);
        let at_limit = format!("metadata[\"k\"]:\"{body}\"");
        assert_eq!(at_limit.chars().count(), MAX_QUERY_CHARS);
        assert!(parse(&at_limit).is_ok());
        let too_many = ["amount>1"; MAX_CLAUSES + 1].join(" ");
        assert_eq!(
            parse(&too_many),
            Err(SearchError::TooManyClauses {
                pos: 9 * MAX_CLAUSES,
                max: MAX_CLAUSES
            })
        );
    }

    #[test]
    fn messages_read_well() {
        let cases = [
            (
                "colour:\"red\"",
                "unknown field `colour` at 0; Payment Intents can be searched by amount, created, currency, customer, \
                 metadata[\"key\"], status",
            ),
            (
                "currency~\"usdx\"",
                "operator `~` at 8 cannot be used on `currency`; it accepts only `:` (exact match)",
            ),
            (
                "currency:\"a\" OR status:\"b\" AND amount>1",
                "`AND` at 27 cannot be combined with the earlier `OR`; a query uses either AND or OR, not both",
            ),
            (
                "customer~'ab'",
                "the substring value `ab` at 9 is 2 characters long; `~` needs at least 3",
            ),
            (
                "(amount>1)",
                "expected a field at 0, found `(` (parentheses are not supported)",
            ),
            ("currency:\"usd", "the string opened by `\"` at 9 is never closed"),
            (
                "metadata[\"a\"]:usd",
                "unquoted value `usd` at 14; string values must be quoted, as in \"usd\"",
            ),
        ];
        for (input, message) in cases {
            let err = parse(input).err().map(|e| e.to_string());
            assert_eq!(err.as_deref(), Some(message), "input {input:?}");
        }
    }

    /// Tiny deterministic xorshift64 generator, so the test needs no `rand`.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        const PIECES: &[&str] = &[
            "a",
            "e",
            "m",
            "z",
            "0",
            "1",
            "9",
            "\"",
            "'",
            "[",
            "]",
            ":",
            "<",
            ">",
            "=",
            "~",
            "-",
            " ",
            "\\",
            "\t",
            "AND",
            "OR",
            "and",
            "or",
            "é",
            "клиент",
            "🦀",
            "\u{0}",
            "\u{301}",
            "(",
            ")",
            "amount",
            "created",
            "currency",
            "customer",
            "status",
            "metadata",
            "null",
            "NULL",
            "metadata[\"k\"]",
            "\"usd\"",
            "'x'",
        ];
        const FIELDS: &[&str] = &[
            "amount",
            "created",
            "currency",
            "customer",
            "status",
            "metadata[\"k\"]",
            "metadata['клиент']",
            "metadata",
            "colour",
        ];
        const OPS: &[&str] = &[":", "~", ">", "<", ">=", "<=", "=", ""];
        const VALUES: &[&str] = &[
            "\"usd\"",
            "'usd'",
            "1000",
            "-5",
            "\"10\"",
            "null",
            "NULL",
            "\"é\"",
            "\"a\\\"b\"",
            "usd",
            "\"",
            "",
        ];
        const SEPS: &[&str] = &[" ", "  ", " AND ", " and ", " OR ", " or ", "", "\t"];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let (mut oks, mut errs) = (0, 0);
        for i in 0..6000 {
            let s: String = if i % 2 == 0 {
                // Free-form soup of the grammar's characters and words.
                let len = rng.below(24);
                (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
            } else {
                // Clause-shaped input, sometimes with one random piece spliced in.
                let mut s = String::new();
                for c in 0..1 + rng.below(4) {
                    if c > 0 {
                        s.push_str(SEPS[rng.below(SEPS.len())]);
                    }
                    if rng.below(4) == 0 {
                        s.push('-');
                    }
                    s.push_str(FIELDS[rng.below(FIELDS.len())]);
                    s.push_str(OPS[rng.below(OPS.len())]);
                    s.push_str(VALUES[rng.below(VALUES.len())]);
                }
                if rng.below(3) == 0 {
                    let chars: Vec<char> = s.chars().collect();
                    let at = rng.below(chars.len() + 1);
                    let piece = PIECES[rng.below(PIECES.len())];
                    s = chars[..at]
                        .iter()
                        .copied()
                        .chain(piece.chars())
                        .chain(chars[at..].iter().copied())
                        .collect();
                }
                s
            };
            match std::panic::catch_unwind(|| parse(&s)) {
                Ok(Ok(_)) => oks += 1,
                Ok(Err(e)) => {
                    errs += 1;
                    assert!(!e.to_string().is_empty());
                }
                Err(_) => panic!("parse panicked on {s:?}"),
            }
        }
        // Sanity: the generator reaches both outcomes often enough to be meaningful.
        assert!(oks > 20 && errs > 1000, "oks {oks}, errs {errs}");
    }
}
