import Foundation
import Testing

/// One ```swift block of a Markdown file.
struct DocBlock {
    let file: String
    /// The line of the block's first code line (1-based).
    let line: Int
    let lines: [String]
    /// `<!-- swift-check: skip (reason) -->` is the line before the fence.
    let skipped: Bool
}

/// Every ```swift block of `path`, with where it starts and whether it is marked to skip.
func docBlocks(inFile path: String) throws -> [DocBlock] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
    var blocks: [DocBlock] = []
    var i = 0
    while i < lines.count {
        guard lines[i].trimmingCharacters(in: .whitespaces) == "```swift" else { i += 1; continue }
        let previous = i > 0 ? lines[i - 1].trimmingCharacters(in: .whitespaces) : ""
        let start = i + 1
        var end = start
        while end < lines.count && lines[end].trimmingCharacters(in: .whitespaces) != "```" { end += 1 }
        blocks.append(DocBlock(file: path, line: start + 1, lines: Array(lines[start..<min(end, lines.count)]),
                               skipped: previous.hasPrefix("<!-- swift-check: skip")))
        i = end + 1
    }
    return blocks
}

/// The Markdown files whose Swift blocks must compile: README.md and docs/*.md.
func documentationFiles() throws -> [String] {
    let root = packageDirectory()
    let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs")
        .filter { $0.hasSuffix(".md") }.sorted().map { root + "/docs/" + $0 }
    return [root + "/README.md"] + docs
}

/// One Swift file that type-checks every block: each is the body of a function whose
/// parameters are the names fragments use without declaring them (`b`, `program`, `pid`), with
/// `#sourceLocation` pointing diagnostics at the Markdown file and line; imports are hoisted.
func docsCheckSource(_ blocks: [DocBlock]) -> String {
    var imports: Set<String> = ["import SwiftBCC"]
    var bodies: [String] = []
    for (n, block) in blocks.enumerated() {
        var body: [String] = []
        for line in block.lines {
            if line.hasPrefix("import ") {
                imports.insert(line.trimmingCharacters(in: .whitespaces))
                body.append("")
            } else {
                body.append(line)
            }
        }
        bodies.append("""
            func docBlock\(n)(b: BPF, program: String, pid: Int32) throws {
            #sourceLocation(file: "\(block.file)", line: \(block.line))
            \(body.joined(separator: "\n"))
            #sourceLocation()
            }
            """)
    }
    return imports.sorted().joined(separator: "\n") + "\n\n" + bodies.joined(separator: "\n\n") + "\n"
}

@Suite("Documentation")
struct DocsTests {
    @Test("Every ```swift block in README.md and docs/*.md type-checks against the library (unless marked swift-check: skip)")
    func swiftBlocksCompile() throws {
        let blocks = try documentationFiles().flatMap { try docBlocks(inFile: $0) }
        let checked = blocks.filter { !$0.skipped }
        #expect(checked.count >= 7, "found \(blocks.count) blocks, \(checked.count) not skipped")
        let readme = try #require(blocks.first)
        #expect(readme.file.hasSuffix("/README.md") && !readme.skipped, "the README's first block is checked")
        let box = try ScriptSandbox()
        let source = try box.write("docs-check.swift", docsCheckSource(checked))
        let (status, child) = try box.run(source, runnerArgs: ["--typecheck"])
        #expect(status == 0, "swiftc on the documentation's Swift blocks:\n\(child.stderr)")
    }

    @Test("A block that does not type-check fails the check, with the Markdown file and line in the diagnostic")
    func brokenBlockIsCaught() throws {
        let box = try ScriptSandbox()
        let md = try box.write("broken.md", "# Doc\n\n```swift\nlet b2 = try BPF(text: 42)\n```\n\n<!-- swift-check: skip (sketch) -->\n```swift\nnot swift\n```\n")
        let blocks = try docBlocks(inFile: md)
        #expect(blocks.map(\.skipped) == [false, true])
        let source = try box.write("docs-check.swift", docsCheckSource(blocks.filter { !$0.skipped }))
        let (status, child) = try box.run(source, runnerArgs: ["--typecheck"])
        #expect(status != 0)
        #expect(child.stderr.contains("\(md):4:"), "stderr: \(child.stderr)")
    }
}
