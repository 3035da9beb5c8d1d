//! Compiled JSONPaths and regexes, kept by their text: a flow evaluates the same entries on
//! every step and every polling try, and compiling is the expensive part.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// Past this many entries a memo starts again empty (flows are finite; this bounds memory
/// when templates make every text different).
const MAX_ENTRIES: usize = 4096;

/// A map from text to its compiled form, shared by every thread.
pub(super) struct Memo<T> {
    map: LazyLock<RwLock<HashMap<String, Arc<T>>>>,
}

impl<T> Memo<T> {
    /// An empty memo.
    pub(super) const fn new() -> Self {
        Memo {
            map: LazyLock::new(|| RwLock::new(HashMap::new())),
        }
    }

    /// The compiled form of `text`, compiling it with `compile` the first time.
    pub(super) fn get<E>(
        &self,
        text: &str,
        compile: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(found) = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(text)
        {
            return Ok(Arc::clone(found));
        }
        let compiled = Arc::new(compile(text)?);
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(text.to_owned(), Arc::clone(&compiled));
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_and_keeps_errors_out() {
        let memo: Memo<usize> = Memo::new();
        let mut calls = 0;
        for _ in 0..3 {
            let v = memo.get("abc", |t| {
                calls += 1;
                Ok::<_, ()>(t.len())
            });
            assert_eq!(*v.unwrap(), 3);
        }
        assert_eq!(calls, 1);
        assert!(memo.get("bad", |_| Err::<usize, _>("no")).is_err());
        assert!(memo.get("bad", |_| Ok::<_, ()>(1)).is_ok());
    }
}
