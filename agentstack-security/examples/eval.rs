//! Prints precision, recall and F1 per detector for a labelled file, as `agentstack security eval`
//! will: `cargo run -p agentstack-security --example eval -- FILE [--misses [SPLIT]]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--scan") {
        let text = args.next().unwrap_or_default();
        let kind = args.next().unwrap_or_else(|| "llm".to_string());
        let (scanner, _) = agentstack_security::SpanScanner::from_config(Default::default());
        let mut span = agentstack_security::ScanSpan::new("p", "t", "s");
        span.kind = Some(&kind);
        if kind == "tool" || kind == "retriever" {
            span.output = Some(&text);
        } else {
            span.input = Some(&text);
        }
        for f in scanner.scan(&span) {
            println!("{} {} {:#?}", f.detector, f.score, f.evidence);
        }
        return ExitCode::SUCCESS;
    }
    let Some(path) = first.map(PathBuf::from) else {
        eprintln!("usage: eval FILE.jsonl|FILE.csv [--misses [SPLIT]]");
        return ExitCode::from(2);
    };
    let misses = args.next().as_deref() == Some("--misses");
    let split = args.next();
    match agentstack_security::eval(&path) {
        Ok(report) => {
            for (split, rows) in &report.rows {
                println!("{split}: {rows} rows");
            }
            print!("{report}");
            if misses {
                for m in &report.misses {
                    if split.as_deref().is_none_or(|s| s == m.split) {
                        let what = if m.false_positive { "FP" } else { "FN" };
                        println!(
                            "{what} {:<18} line {:>3} [{}] {}",
                            m.detector.as_str(),
                            m.line,
                            m.split,
                            m.excerpt
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
