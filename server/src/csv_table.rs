//! CSV files written from one table of columns (issue 20): each column is a name and the way
//! its cell is written from a row, so the header and every row come from the same list and a
//! column cannot be added to one without the other.
//!
//! Output is UTF-8, RFC 4180, CRLF (the `csv` crate quotes what needs quoting). Cells are
//! written into one reused buffer, so a row costs no allocation of its own. Knows nothing of
//! HTTP or storage: the exports in `http/` give it rows and send its chunks.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, SecondsFormat};

/// Does a spreadsheet run a cell starting like this as a formula? `=`, `+`, `-`, `@`, tab, CR.
fn runs_as_formula(cell: &str) -> bool {
    matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// Neutralise spreadsheet formulas: a cell starting with `=`, `+`, `-`, `@`, tab or CR is
/// prefixed with `'` so a spreadsheet shows it as text.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    if runs_as_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The cell a column function is writing: append its text with these methods.
#[derive(Default)]
pub struct Cell {
    buf: String,
    /// The last UTC second formatted by [`Cell::time`] and its `YYYY-MM-DDTHH:MM:SS`: rows in
    /// time order mostly share it.
    second: Option<(i64, String)>,
}

impl Cell {
    /// The text as it is.
    pub fn text(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Text from outside (names, messages, comments…), formula-neutralised (see [`csv_safe`]).
    pub fn safe(&mut self, s: &str) {
        if runs_as_formula(s) {
            self.buf.push('\'');
        }
        self.buf.push_str(s);
    }

    pub fn int(&mut self, v: i64) {
        let _ = write!(self.buf, "{v}");
    }

    /// Anything with `Display` (decimals are written as Rust prints them: `0.5`, `12`).
    pub fn display(&mut self, v: impl std::fmt::Display) {
        let _ = write!(self.buf, "{v}");
    }

    /// `Some` as [`Cell::display`], `None` as an empty cell.
    pub fn opt(&mut self, v: Option<impl std::fmt::Display>) {
        if let Some(v) = v {
            self.display(v);
        }
    }

    /// A Unix-millisecond instant in UTC, RFC 3339 with milliseconds: `2026-03-29T00:00:00.000Z`.
    pub fn time(&mut self, ms: i64) {
        let (sec, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
        if self.second.as_ref().map(|(s, _)| *s) != Some(sec) {
            match DateTime::from_timestamp(sec, 0) {
                // Four-digit years print plainly; others (signed, wider) are chrono's to write.
                Some(t) if (0..=9999).contains(&t.year()) => {
                    self.second = Some((sec, t.format("%Y-%m-%dT%H:%M:%S").to_string()));
                }
                _ => {
                    if let Some(t) = DateTime::from_timestamp_millis(ms) {
                        self.buf.push_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
                    }
                    return;
                }
            }
        }
        if let Some((_, prefix)) = &self.second {
            self.buf.push_str(prefix);
        }
        let milli = milli as u32;
        let digits = [
            b'.',
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
            b'Z',
        ];
        // ASCII by construction.
        self.buf.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }

    /// [`Cell::time`] when there is an instant, else an empty cell.
    pub fn opt_time(&mut self, ms: Option<i64>) {
        if let Some(ms) = ms {
            self.time(ms);
        }
    }
}

/// How a column writes its cell from a row.
pub type CellFn<R> = fn(&R, &mut Cell);

/// A column's cell writer when it needs to capture something (a currency, a time zone).
type BoxedCellFn<R> = Box<dyn Fn(&R, &mut Cell) + Send + Sync>;

struct Column<R> {
    name: Cow<'static, str>,
    cell: BoxedCellFn<R>,
}

/// The columns of one CSV file, in order.
pub struct Table<R> {
    columns: Vec<Column<R>>,
}

impl<R: 'static> Table<R> {
    /// A table of fixed columns.
    pub fn new(columns: &[(&'static str, CellFn<R>)]) -> Table<R> {
        Table { columns: Vec::new() }.extend(columns)
    }

    /// Then these fixed columns.
    pub fn extend(mut self, columns: &[(&'static str, CellFn<R>)]) -> Table<R> {
        for &(name, cell) in columns {
            self = self.column(name, cell);
        }
        self
    }

    /// Then one column more, e.g. one named at run time (`revenue_EUR`) or one needing a value
    /// the rows do not carry.
    pub fn column(mut self, name: impl Into<Cow<'static, str>>, cell: impl Fn(&R, &mut Cell) + Send + Sync + 'static) -> Table<R> {
        self.columns.push(Column {
            name: name.into(),
            cell: Box::new(cell),
        });
        self
    }

    /// Then the columns of a part of the row (e.g. the figures of a metrics row).
    pub fn part<P: 'static>(mut self, part: fn(&R) -> &P, columns: &[(&'static str, CellFn<P>)]) -> Table<R> {
        for &(name, cell) in columns {
            self = self.column(name, move |r: &R, c: &mut Cell| cell(part(r), c));
        }
        self
    }

    /// The header, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_ref())
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// CSV being written into memory: a whole small file, or one chunk of a streamed one.
pub struct Chunk {
    w: csv::Writer<Vec<u8>>,
    cell: Cell,
}

impl Chunk {
    pub fn new() -> Chunk {
        Chunk::with_capacity(64 * 1024)
    }

    pub fn with_capacity(bytes: usize) -> Chunk {
        Chunk {
            w: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::with_capacity(bytes)),
            cell: Cell::default(),
        }
    }

    /// The header row of `table`.
    pub fn header<R: 'static>(&mut self, table: &Table<R>) -> std::io::Result<()> {
        self.w.write_record(table.names()).map_err(std::io::Error::other)
    }

    /// One row: each column writes its cell, in the header's order.
    pub fn row<R: 'static>(&mut self, table: &Table<R>, row: &R) -> std::io::Result<()> {
        for col in &table.columns {
            self.cell.buf.clear();
            (col.cell)(row, &mut self.cell);
            self.w.write_field(&self.cell.buf).map_err(std::io::Error::other)?;
        }
        self.w.write_record(None::<&[u8]>).map_err(std::io::Error::other)
    }

    /// Bytes written so far that are not in the writer's buffer yet are flushed on finishing;
    /// this counts what has reached the chunk (to decide when to send it).
    pub fn len(&self) -> usize {
        self.w.get_ref().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The CSV text written.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
    }
}

impl Default for Chunk {
    fn default() -> Self {
        Chunk::new()
    }
}

/// A whole file: the header and every row.
pub fn write_all<'a, R: 'static>(table: &Table<R>, rows: impl IntoIterator<Item = &'a R>) -> std::io::Result<Vec<u8>> {
    let mut out = Chunk::new();
    out.header(table)?;
    for r in rows {
        out.row(table, r)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        name: String,
        n: i64,
        at: Option<i64>,
    }

    #[test]
    fn header_and_rows_come_from_one_table_and_quote_as_rfc_4180() {
        let table = Table::<Row>::new(&[("name", |r, c| c.safe(&r.name)), ("n", |r, c| c.int(r.n))])
            .column("at", |r: &Row, c: &mut Cell| c.opt_time(r.at))
            .column("revenue_EUR", |r: &Row, c: &mut Cell| c.display(format_args!("{}.00", r.n)));
        assert_eq!(table.names().collect::<Vec<_>>(), ["name", "n", "at", "revenue_EUR"]);
        let rows = [
            Row {
                name: "=SUM(A1)".into(),
                n: -3,
                at: Some(1_774_742_400_123),
            },
            Row {
                name: "a, \"b\"\nc".into(),
                n: 0,
                at: None,
            },
        ];
        let text = String::from_utf8(write_all(&table, &rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "name,n,at,revenue_EUR\r\n'=SUM(A1),-3,2026-03-29T00:00:00.123Z,-3.00\r\n\"a, \"\"b\"\"\nc\",0,,0.00\r\n"
        );
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let chrono = |ms: i64| {
            DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut cell = Cell::default();
        let mut check = |ms: i64| {
            cell.buf.clear();
            cell.time(ms);
            assert_eq!(cell.buf, chrono(ms), "{ms}");
        };
        // Around the epoch, negative instants, the ends of four-digit years and beyond them.
        for ms in [0, 1, -1, 999, 1000, -999, -1000, -1001, 1_774_742_399_999, 1_774_742_400_000] {
            check(ms);
        }
        let year_10000 = 253_402_300_800_000;
        let year_0 = -62_167_219_200_000;
        for base in [year_10000, year_0, -year_10000, i64::MAX / 1000, i64::MIN / 1000] {
            for d in [-1001, -1000, -1, 0, 1, 999, 1000] {
                check(base.saturating_add(d));
            }
        }
        check(i64::MAX);
        check(i64::MIN);
        // A walk through 2026 in steps that cross seconds, minutes, days and months.
        let mut ms = 1_767_225_600_000;
        while ms < 1_798_761_600_000 {
            check(ms);
            ms += 7_654_321;
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        for (cell, want) in [
            ("=1", "'=1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@x", "'@x"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=1", "a=1"),
            ("", ""),
        ] {
            assert_eq!(csv_safe(cell), want);
            let mut c = Cell::default();
            c.safe(cell);
            assert_eq!(c.buf, want);
        }
    }
}
