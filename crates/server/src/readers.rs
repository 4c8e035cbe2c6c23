//! A small pool of reader connections; queries run on blocking threads.

use keylens_backend::Reader;
use std::sync::Mutex;
use tokio::sync::Semaphore;

pub struct Pool {
    slots: Semaphore,
    readers: Mutex<Vec<Reader>>,
}

impl Pool {
    pub fn new(readers: Vec<Reader>) -> Pool {
        Pool {
            slots: Semaphore::new(readers.len()),
            readers: Mutex::new(readers),
        }
    }

    /// Runs `f` with a reader on a blocking thread.
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> T + Send + 'static,
    ) -> T {
        let _permit = self
            .slots
            .acquire()
            .await
            .expect("the pool is never closed");
        let reader = self
            .readers
            .lock()
            .expect("pool lock")
            .pop()
            .expect("a permit guarantees a reader");
        let (reader, out) = tokio::task::spawn_blocking(move || {
            let out = f(&reader);
            (reader, out)
        })
        .await
        .expect("a query task does not panic");
        self.readers.lock().expect("pool lock").push(reader);
        out
    }
}
