//! The README's SDK snippets are the `examples/` files that the real-client
//! suite runs, character for character.

#[test]
fn readme_snippets_match_examples() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut checked = 0;
    for part in readme.split("<!-- snippet: ").skip(1) {
        let (path, rest) = part.split_once(" -->\n").expect("snippet marker");
        let block = rest.split_once('\n').expect("fence line").1;
        let block = block.split("\n```").next().expect("closing fence");
        let file = std::fs::read_to_string(format!("{root}/{path}"))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            block,
            file.trim_end_matches('\n'),
            "README snippet differs from {path}"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 5,
        "python, node, coscmd snippets, rclone and s3cmd configs"
    );
}
