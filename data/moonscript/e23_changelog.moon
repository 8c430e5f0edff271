-- Changelog generator for conventional commit messages such as
--   "feat(parser): support unicode escapes" or "fix!: drop lua 5.0"
-- Commits are grouped by type and breaking changes are listed first.
import insert, concat, sort from table

SECTIONS = {
  { type: "feat", title: "Features" }
  { type: "fix", title: "Bug Fixes" }
  { type: "perf", title: "Performance" }
  { type: "docs", title: "Documentation" }
}

parse_commit = (hash, message) ->
  header, body = message\match "^([^\n]*)\n?(.*)$"
  kind, scope, bang, subject = header\match "^(%a+)%(?([%w_/%-]*)%)?(!?):%s*(.+)$"
  return nil unless kind
  note = body\match "BREAKING CHANGE:%s*([^\n]+)"
  {
    :hash, :subject, :note
    type: kind\lower!
    scope: scope != "" and scope or nil
    breaking: bang == "!" or note != nil
  }

class Changelog
  new: (@version, @date = os.date "%Y-%m-%d") =>
    @commits = {}
    @skipped = 0

  add: (hash, message) =>
    commit = parse_commit hash, message
    if commit
      insert @commits, commit
    else
      @skipped += 1
    @

  suggested_bump: =>
    bump = "patch"
    for c in *@commits
      return "major" if c.breaking
      bump = "minor" if c.type == "feat"
    bump

  format_entry: (c) =>
    scope = c.scope and "**#{c.scope}:** " or ""
    "- #{scope}#{c.subject} (#{c.hash\sub 1, 7})"

  render: =>
    out = { "## #{@version} (#{@date})", "" }
    breaking = [c for c in *@commits when c.breaking]
    if #breaking > 0
      insert out, "### BREAKING CHANGES"
      insert out, ""
      insert out, "- #{c.note or c.subject}" for c in *breaking
      insert out, ""
    for section in *SECTIONS
      entries = [c for c in *@commits when c.type == section.type]
      continue if #entries == 0
      -- scoped entries first, alphabetically, then the unscoped ones
      sort entries, (a, b) -> (a.scope or "~") < (b.scope or "~")
      insert out, "### #{section.title}"
      insert out, ""
      insert out, @format_entry c for c in *entries
      insert out, ""
    concat out, "\n"

-- demo
log = with Changelog "1.4.0", "2024-05-02"
  \add "a1b2c3d4e5", "feat(parser): support unicode escapes in strings"
  \add "b2c3d4e5f6", "fix(lexer): report the right column after tabs"
  \add "c3d4e5f6a7", "chore: bump ci image"
  \add "d4e5f6a7b8", "feat!: drop lua 5.0 support\n\nBREAKING CHANGE: lua 5.1 is now the minimum"
  \add "e5f6a7b8c9", "docs: explain the plugin hooks"
  \add "f6a7b8c9d0", "fix: handle empty input files"
  \add "0a1b2c3d4e", "perf(vm): cache global lookups"
  \add "1b2c3d4e5f", "merged some stuff"

print log\render!
print "suggested bump: #{log\suggested_bump!}"
print "skipped #{log.skipped} non-conventional commit(s)"

{ :Changelog, :parse_commit }
