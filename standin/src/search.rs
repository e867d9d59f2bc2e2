//! The search query language (a subset), for `GET /v1/payment_intents/search`.

use serde_json::Value;

use crate::errors::ApiError;
use crate::payment_intents::PaymentIntent;

/// A searchable field of a PaymentIntent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Amount,
    Created,
    Currency,
    Customer,
    Status,
    Metadata(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The compared value: numeric fields hold a number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Number(i64),
    Text(String),
}

/// One `field op value` clause, optionally negated with `-`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub(crate) negated: bool,
    pub(crate) field: Field,
    pub(crate) op: Op,
    pub(crate) value: Operand,
}

/// A parsed query: clauses joined all by AND or all by OR.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchQuery {
    pub(crate) clauses: Vec<Clause>,
    pub(crate) any: bool,
}

/// Why a query could not be parsed.
#[derive(Debug, PartialEq)]
pub(crate) enum QueryError {
    Invalid,
    UnsupportedField(String),
}

impl QueryError {
    pub(crate) fn into_api_error(self) -> ApiError {
        match self {
            QueryError::Invalid => ApiError::invalid_search_query("query"),
            QueryError::UnsupportedField(field) => ApiError::invalid(format!(
                "Field `{field}` is an unsupported search field for resource `payment_intents`. See http://stripe.com/docs/search#query-fields-for-payment-intents for a list of supported fields."
            ))
            .code("parameter_invalid_string")
            .param("query"),
        }
    }
}

/// A character cursor over the query text.
pub(crate) struct Lexer<'a> {
    pub(crate) rest: &'a str,
}

impl<'a> Lexer<'a> {
    /// Skips whitespace; true if any was skipped.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let trimmed = self.rest.trim_start();
        let skipped = trimmed.len() != self.rest.len();
        self.rest = trimmed;
        skipped
    }

    pub(crate) fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Consumes a keyword (`AND`/`OR`) followed by whitespace.
    pub(crate) fn eat_keyword(&mut self, word: &str) -> bool {
        let followed_by_space = self
            .rest
            .strip_prefix(word)
            .is_some_and(|r| r.starts_with(char::is_whitespace));
        if followed_by_space {
            self.rest = &self.rest[word.len()..];
        }
        followed_by_space
    }

    /// A run of `[A-Za-z0-9_.]`.
    pub(crate) fn identifier(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest.len());
        let (ident, rest) = self.rest.split_at(end);
        self.rest = rest;
        ident
    }

    /// A `"…"` or `'…'` string with backslash escapes.
    pub(crate) fn quoted(&mut self) -> Result<String, QueryError> {
        let mut chars = self.rest.char_indices();
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\''))) => q,
            _ => return Err(QueryError::Invalid),
        };
        let mut out = String::new();
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                self.rest = &self.rest[i + c.len_utf8()..];
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(QueryError::Invalid)
    }

    /// A quoted string or a bare token up to whitespace.
    pub(crate) fn value(&mut self) -> Result<String, QueryError> {
        if self.rest.starts_with(['"', '\'']) {
            return self.quoted();
        }
        let end = self.rest.find(char::is_whitespace).unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        if token.is_empty() {
            return Err(QueryError::Invalid);
        }
        self.rest = rest;
        Ok(token.to_owned())
    }
}

impl SearchQuery {
    /// Parses e.g. `metadata["order_id"]:"42" AND amount>1000 -status:"canceled"`.
    pub(crate) fn parse(text: &str) -> Result<Self, QueryError> {
        let mut lexer = Lexer { rest: text };
        let mut clauses = Vec::new();
        let mut joins = Vec::new();
        loop {
            let spaced = lexer.skip_ws();
            if lexer.rest.is_empty() {
                break;
            }
            if !clauses.is_empty() {
                if lexer.eat_keyword("AND") {
                    joins.push(false);
                    lexer.skip_ws();
                } else if lexer.eat_keyword("OR") {
                    joins.push(true);
                    lexer.skip_ws();
                } else if spaced {
                    joins.push(false);
                } else {
                    return Err(QueryError::Invalid);
                }
            }
            clauses.push(Self::clause(&mut lexer)?);
        }
        if clauses.is_empty() {
            return Err(QueryError::Invalid);
        }
        let any = joins.first().copied().unwrap_or(false);
        if joins.iter().any(|&j| j != any) {
            return Err(QueryError::Invalid);
        }
        Ok(Self { clauses, any })
    }

    pub(crate) fn clause(lexer: &mut Lexer) -> Result<Clause, QueryError> {
        let negated = lexer.eat("-");
        let name = lexer.identifier();
        let field = match name {
            "" => return Err(QueryError::Invalid),
            "amount" => Some(Field::Amount),
            "created" => Some(Field::Created),
            "currency" => Some(Field::Currency),
            "customer" => Some(Field::Customer),
            "status" => Some(Field::Status),
            "metadata" => {
                if !lexer.eat("[") {
                    return Err(QueryError::Invalid);
                }
                let key = lexer.quoted()?;
                if !lexer.eat("]") {
                    return Err(QueryError::Invalid);
                }
                Some(Field::Metadata(key))
            }
            _ => None,
        };
        let op = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            (":", Op::Eq),
        ]
        .into_iter()
        .find(|(token, _)| lexer.eat(token))
        .map(|(_, op)| op)
        .ok_or(QueryError::Invalid)?;
        let raw = lexer.value()?;
        // Only a well-formed clause can name an unsupported field.
        let field = field.ok_or_else(|| QueryError::UnsupportedField(name.to_owned()))?;
        let value = match field {
            Field::Amount | Field::Created => Operand::Number(raw.parse().map_err(|_| QueryError::Invalid)?),
            _ if op != Op::Eq => return Err(QueryError::Invalid),
            _ => Operand::Text(raw),
        };
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }

    /// True if the intent satisfies the query.
    pub(crate) fn matches(&self, pi: &PaymentIntent) -> bool {
        let mut results = self.clauses.iter().map(|c| c.matches(pi));
        if self.any {
            results.any(|r| r)
        } else {
            results.all(|r| r)
        }
    }
}

impl Clause {
    pub(crate) fn matches(&self, pi: &PaymentIntent) -> bool {
        let hit = match (&self.field, &self.value) {
            (Field::Amount, Operand::Number(n)) => compare(pi.amount, self.op, *n),
            (Field::Created, Operand::Number(n)) => compare(pi.created, self.op, *n),
            (Field::Currency, Operand::Text(t)) => pi.currency.eq_ignore_ascii_case(t),
            (Field::Customer, Operand::Text(t)) => pi.customer.as_deref() == Some(t.as_str()),
            (Field::Status, Operand::Text(t)) => pi.status.as_str() == t,
            (Field::Metadata(key), Operand::Text(t)) => {
                pi.metadata.get(key).and_then(Value::as_str) == Some(t.as_str())
            }
            _ => false,
        };
        hit != self.negated
    }
}

pub(crate) fn compare(actual: i64, op: Op, expected: i64) -> bool {
    match op {
        Op::Eq => actual == expected,
        Op::Gt => actual > expected,
        Op::Ge => actual >= expected,
        Op::Lt => actual < expected,
        Op::Le => actual <= expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdGen;
    use crate::payment_intents::Status;
    use serde_json::json;

    fn intent(amount: i64, status: Status, order: &str) -> PaymentIntent {
        let mut ids = IdGen::new(Some(1));
        let mut pi = PaymentIntent::new(&mut ids, 1_767_225_600, amount, "usd".to_owned());
        pi.status = status;
        pi.metadata.insert("order_id".to_owned(), json!(order));
        pi
    }

    #[test]
    fn search_query_matches() {
        let pi = intent(2000, Status::Succeeded, "42");
        let q = |s: &str| SearchQuery::parse(s).expect("parses");
        assert!(q(r#"metadata["order_id"]:"42""#).matches(&pi));
        assert!(q("metadata['order_id']:'42' AND status:\"succeeded\"").matches(&pi));
        assert!(q("amount>1000 currency:\"usd\"").matches(&pi));
        assert!(!q("amount<2000").matches(&pi));
        assert!(q("amount<=2000 AND amount>=2000 AND amount:2000").matches(&pi));
        assert!(!q("-status:\"succeeded\"").matches(&pi));
        assert!(q("status:\"canceled\" OR amount:2000").matches(&pi));
        assert!(!q("customer:\"cus_x\"").matches(&pi));
    }

    #[test]
    fn search_query_rejects_garbage() {
        for bad in [
            "",
            "not a query",
            "garbage",
            "status:",
            "amount>abc",
            "status>\"x\"",
            "a:1 AND b:2 OR c:3",
            "metadata[order]:\"x\"",
            "status:\"x",
        ] {
            assert!(SearchQuery::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            SearchQuery::parse("color:\"red\""),
            Err(QueryError::UnsupportedField("color".to_owned()))
        );
    }
}
