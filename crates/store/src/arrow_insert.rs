//! Inserting Arrow batches through DuckDB's own Arrow scan.
//!
//! The `duckdb` crate's appender turns an Arrow batch into DuckDB vectors value by value through
//! the C API (a call per string); DuckDB's Arrow scan reads the batch's buffers itself, as its
//! Python package does. On the import's batches (122,880 events, appended and committed one by
//! one) that is 3.4-3.8 us per event through the appender and 2.1-2.3 through the scan
//! (BENCHMARKS.md, "Session 12"). The crate wraps neither the scan nor the raw connection it
//! needs, so the few C calls live here: [`open`] opens the database itself and hands the crate a
//! connection to it, and an [`Inserter`] is a raw connection of the writer's own for the scans,
//! which it uses in bulk mode (`Store::set_bulk`; other appends keep the appender).

use crate::{Error, Result};
use duckdb::arrow::array::{Array, StructArray};
use duckdb::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::ffi;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr;
use std::sync::Arc;

/// The name of the view each insert reads its batch through. Created and dropped inside the
/// insert's transaction, so no committed catalog ever holds it.
const VIEW: &str = "keylens_incoming_batch";

/// An open DuckDB database, closed when the last connection holding it is dropped.
pub(crate) struct Database {
    raw: ffi::duckdb_database,
}

// SAFETY: a DuckDB database handle may be used and closed from any thread; DuckDB synchronises
// the connections made from it.
unsafe impl Send for Database {}
unsafe impl Sync for Database {}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: every connection to it holds this `Arc` and drops its connection first.
        unsafe { ffi::duckdb_close(&mut self.raw) }
    }
}

/// Opens the database file at `path`: the handle every connection keeps alive, and a connection
/// of the `duckdb` crate to it.
pub(crate) fn open(
    path: &Path,
) -> std::result::Result<(Arc<Database>, duckdb::Connection), duckdb::Error> {
    let c_path = CString::new(path.to_string_lossy().as_bytes())?;
    let mut raw: ffi::duckdb_database = ptr::null_mut();
    let mut error: *mut std::os::raw::c_char = ptr::null_mut();
    // SAFETY: valid pointers for the path and both outputs; the error string is freed below.
    let rc =
        unsafe { ffi::duckdb_open_ext(c_path.as_ptr(), &mut raw, ptr::null_mut(), &mut error) };
    if rc != ffi::DuckDBSuccess {
        let message = (!error.is_null()).then(|| {
            // SAFETY: DuckDB set `error` to a NUL-terminated string it allocated.
            let text = unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned();
            unsafe { ffi::duckdb_free(error.cast()) };
            text
        });
        return Err(duckdb::Error::DuckDBFailure(ffi::Error::new(rc), message));
    }
    let db = Arc::new(Database { raw });
    // SAFETY: `raw` is open and stays open while `db` lives, which every holder of this
    // connection keeps beside it (dropped after it).
    let conn = unsafe { duckdb::Connection::open_from_raw(raw) }?;
    Ok((db, conn))
}

/// A connection for inserting Arrow batches. Used by one thread at a time (it is `Send`, not
/// `Sync`).
pub(crate) struct Inserter {
    con: ffi::duckdb_connection,
    _db: Arc<Database>,
}

// SAFETY: a DuckDB connection may move between threads; `Inserter` is not `Sync`, so it is never
// used by two at once.
unsafe impl Send for Inserter {}

impl Drop for Inserter {
    fn drop(&mut self) {
        // SAFETY: connected in `new`, disconnected once here.
        unsafe { ffi::duckdb_disconnect(&mut self.con) }
    }
}

impl Inserter {
    pub(crate) fn new(db: &Arc<Database>) -> Result<Inserter> {
        let mut con: ffi::duckdb_connection = ptr::null_mut();
        // SAFETY: the database is open while `db` lives.
        if unsafe { ffi::duckdb_connect(db.raw, &mut con) } != ffi::DuckDBSuccess {
            return Err(Error::Write("cannot connect to the database".into()));
        }
        Ok(Inserter {
            con,
            _db: db.clone(),
        })
    }

    /// `work` inside one transaction: committed if it succeeds (durable when this returns
    /// `Ok`: DuckDB syncs its write-ahead log at commit), rolled back if not.
    pub(crate) fn in_transaction<T>(&self, work: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        crate::transaction(|sql| self.execute(sql), || work(self))
    }

    /// Inserts the rows of `batch` into `table`, its columns matched to the table's by name.
    /// Call it inside [`Inserter::in_transaction`]: the view it reads through is then never
    /// committed, even when the insert fails.
    pub(crate) fn insert(&self, table: &str, batch: &RecordBatch) -> Result<()> {
        let failed = |message: String| Error::Write(format!("inserting into {table}: {message}"));
        let data = StructArray::from(batch.clone()).into_data();
        let mut array = FFI_ArrowArray::new(&data);
        let mut schema = FFI_ArrowSchema::try_from(data.data_type())?;
        let view = CString::new(VIEW).expect("no NUL");
        let mut stream: ffi::duckdb_arrow_stream = ptr::null_mut();
        // SAFETY: `schema` and `array` outlive the scan: the view reads them during the INSERT
        // below and is dropped before they are. DuckDB leaves both owned by us (its scan reads
        // a copy of the array whose release does nothing), so Rust frees them as usual.
        let rc = unsafe {
            ffi::duckdb_arrow_array_scan(
                self.con,
                view.as_ptr(),
                &mut schema as *mut FFI_ArrowSchema as ffi::duckdb_arrow_schema,
                &mut array as *mut FFI_ArrowArray as ffi::duckdb_arrow_array,
                &mut stream,
            )
        };
        let result = if rc == ffi::DuckDBSuccess {
            self.execute(&format!("INSERT INTO {table} BY NAME SELECT * FROM {VIEW}"))
                .and_then(|_| self.execute(&format!("DROP VIEW {VIEW}")))
                .map_err(|e| match e {
                    Error::Write(message) => failed(message),
                    e => e,
                })
        } else {
            Err(failed("DuckDB could not scan the Arrow batch".into()))
        };
        // SAFETY: made by the scan above; nothing reads it once the view is gone (or, when the
        // insert failed, once the caller's transaction rolls the view back).
        unsafe { ffi::duckdb_destroy_arrow_stream(&mut stream) };
        drop((array, schema));
        result
    }

    /// Runs `sql`, statements whose results are not read.
    fn execute(&self, sql: &str) -> Result<()> {
        let c_sql = CString::new(sql)
            .map_err(|_| Error::Write(format!("a statement with a NUL byte: {sql:?}")))?;
        // SAFETY: a zeroed result is what `duckdb_query` fills; destroyed once below.
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let rc = ffi::duckdb_query(self.con, c_sql.as_ptr(), &mut result);
            let outcome = if rc == ffi::DuckDBSuccess {
                Ok(())
            } else {
                let error = ffi::duckdb_result_error(&mut result);
                let message = if error.is_null() {
                    "unknown error".to_string()
                } else {
                    CStr::from_ptr(error).to_string_lossy().into_owned()
                };
                Err(Error::Write(format!("{sql}: {message}")))
            };
            ffi::duckdb_destroy_result(&mut result);
            outcome
        }
    }
}
