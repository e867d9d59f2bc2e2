//! Collections of stored objects in creation order, and Stripe's list pagination over them.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::params::{parse_limit, Params};

/// An object that has an id.
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

/// Where a page starts relative to a cursor object (by insertion index).
pub(crate) enum Anchor {
    Newest,
    After(usize),
    Before(usize),
}

/// Objects of one type, in insertion (creation) order, indexed by id.
pub(crate) struct Collection<T> {
    items: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Collection<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Keyed> Collection<T> {
    pub(crate) fn insert(&mut self, item: T) {
        self.index.insert(item.key().to_owned(), self.items.len());
        self.items.push(item);
    }

    /// Insertion index of an id.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub(crate) fn find(&self, id: &str) -> Option<&T> {
        self.position(id).and_then(|i| self.items.get(i))
    }

    pub(crate) fn find_mut(&mut self, id: &str) -> Option<&mut T> {
        self.position(id).and_then(|i| self.items.get_mut(i))
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Every object, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    /// One page, newest first, of objects satisfying `keep`; plus `has_more`.
    pub(crate) fn page(&self, keep: impl Fn(&T) -> bool, limit: usize, anchor: Anchor) -> (Vec<&T>, bool) {
        let take = limit.saturating_add(1);
        let mut items: Vec<&T> = match anchor {
            Anchor::Newest => self.items.iter().rev().filter(|t| keep(t)).take(take).collect(),
            Anchor::After(i) => self
                .items
                .get(..i)
                .unwrap_or_default()
                .iter()
                .rev()
                .filter(|t| keep(t))
                .take(take)
                .collect(),
            Anchor::Before(i) => self
                .items
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .filter(|t| keep(t))
                .take(take)
                .collect(),
        };
        let has_more = items.len() > limit;
        items.truncate(limit);
        if matches!(anchor, Anchor::Before(_)) {
            items.reverse();
        }
        (items, has_more)
    }

    /// `GET` list endpoint body: `limit`, `starting_after`/`ending_before`
    /// (an unknown cursor is `missing(id, param)`), the filter `keep`, and
    /// Stripe's `{"object": "list", ...}` envelope.
    pub(crate) fn list(
        &self,
        p: &Params,
        url: &str,
        keep: impl Fn(&T) -> bool,
        render: impl Fn(&T) -> Value,
        missing: impl Fn(&str, &str) -> ApiError,
    ) -> Result<Value, ApiError> {
        let limit = parse_limit(p)?;
        let anchor = match (p.non_empty_text("starting_after")?, p.non_empty_text("ending_before")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "You may only specify one of these parameters: ending_before, starting_after.",
                )
                .param("ending_before"))
            }
            (Some(id), None) => Anchor::After(self.position(&id).ok_or_else(|| missing(&id, "starting_after"))?),
            (None, Some(id)) => Anchor::Before(self.position(&id).ok_or_else(|| missing(&id, "ending_before"))?),
            (None, None) => Anchor::Newest,
        };
        let (items, has_more) = self.page(keep, limit, anchor);
        Ok(json!({
            "object": "list",
            "data": items.into_iter().map(render).collect::<Vec<_>>(),
            "has_more": has_more,
            "url": url,
        }))
    }
}
