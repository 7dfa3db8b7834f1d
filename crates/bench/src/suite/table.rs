//! Markdown tables and the number formats they use.

use std::fmt;
use std::time::Duration;

/// A markdown table under a `###` title, with an optional note between them. The first
/// column is aligned left, the others right.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub note: Option<String>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: impl Into<String>, headers: Vec<&'static str>) -> Self {
        Self {
            title: title.into(),
            note: None,
            headers,
            rows: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "### {}\n", self.title)?;
        if let Some(note) = &self.note {
            writeln!(f, "{note}\n")?;
        }
        writeln!(f, "| {} |", self.headers.join(" | "))?;
        let rule: Vec<&str> = (0..self.headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        writeln!(f, "|{}|", rule.join("|"))?;
        for row in &self.rows {
            let mut cells = row.clone();
            cells.resize(self.headers.len(), String::new());
            writeln!(f, "| {} |", cells.join(" | "))?;
        }
        Ok(())
    }
}

/// A rate, rounded to a whole number per second; `-` when nothing was timed.
pub fn per_second(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{r:.0}"))
}

/// A ratio with two decimals; `-` without both figures.
pub fn ratio(value: Option<f64>, to: Option<f64>) -> String {
    match (value, to) {
        (Some(v), Some(t)) if t > 0.0 => format!("{:.2}", v / t),
        _ => "-".to_string(),
    }
}

/// A latency in milliseconds with two decimals.
pub fn millis(latency: Option<Duration>) -> String {
    latency.map_or_else(
        || "-".to_string(),
        |l| format!("{:.2}", l.as_secs_f64() * 1_000.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_markdown_with_numbers_aligned_right() {
        let mut table = Table::new("Ceilings", vec!["server", "writes/s"]).note("loaded");
        table.row(vec!["Redis".into(), per_second(Some(1234.56))]);
        table.row(vec!["MongoDB".into()]);
        assert_eq!(
            table.to_string(),
            "### Ceilings\n\nloaded\n\n| server | writes/s |\n|---|---:|\n\
             | Redis | 1235 |\n| MongoDB |  |\n"
        );
    }

    #[test]
    fn missing_figures_show_as_a_dash() {
        assert_eq!(per_second(None), "-");
        assert_eq!(ratio(Some(1.0), None), "-");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "-");
        assert_eq!(ratio(Some(3.0), Some(4.0)), "0.75");
        assert_eq!(millis(Some(Duration::from_micros(1_234))), "1.23");
        assert_eq!(millis(None), "-");
    }
}
