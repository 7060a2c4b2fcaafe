//! Lanes for tests of batches: an `Enter` context and `Offload` threads that count the
//! batches they get (`mod lanes;` in a test file).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use netcore::server::{Batch, Enter, Offload, Response};

/// Counts the batches it is entered for.
#[derive(Default)]
pub struct Counting(pub AtomicUsize);

impl Enter for Counting {
    fn enter(&self, batch: &mut dyn FnMut()) {
        self.0.fetch_add(1, Ordering::SeqCst);
        batch();
    }
}

/// One thread answering batches, counting them.
pub struct Thread {
    jobs: Mutex<mpsc::Sender<(Batch, tokio::sync::oneshot::Sender<Vec<Response>>)>>,
    pub batches: Arc<AtomicUsize>,
}

impl Thread {
    pub fn start() -> Arc<Thread> {
        let (jobs, rx) = mpsc::channel::<(Batch, tokio::sync::oneshot::Sender<Vec<Response>>)>();
        let batches = Arc::new(AtomicUsize::new(0));
        let seen = batches.clone();
        std::thread::spawn(move || {
            for (batch, reply) in rx {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(batch.answer());
            }
        });
        Arc::new(Thread { jobs: Mutex::new(jobs), batches })
    }
}

impl Offload for Thread {
    fn submit(&self, batch: Batch) -> Result<tokio::sync::oneshot::Receiver<Vec<Response>>, Batch> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs.lock().unwrap().send((batch, tx)).map_err(|e| e.0 .0)?;
        Ok(rx)
    }
}
