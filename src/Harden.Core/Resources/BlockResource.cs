using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// Lines between harden's markers in a file someone else owns, e.g. settings at the very top of
/// sshd_config where every scanner reads them and sshd's first-value rule makes them win. Only the
/// block changes; restore puts the previous block back or removes it.
/// </summary>
public sealed class BlockResource(string module, string path, string content, string position, string? validator) : IResource, ITextEdit
{
    public const string Kind = "block";

    public Address Address { get; } = new(Kind, $"{path}#{module}");
    public string Module => module;
    public string Path => path;
    public string Content => content;
    public string? Validator => validator;
    public string Edit(string current) => Set(current, module, Normalise(content), position);

    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, path)];
    public IEnumerable<Address> DependsOn => [];

    public static string Begin(string module) => $"# BEGIN harden {module} (managed block: edits inside are replaced)";
    public static string End(string module) => $"# END harden {module}";

    public Change Plan(HostSnapshot host)
    {
        var file = host.File(path);
        var text = TextFile.Read(file, path);
        var current = Current(text, module);
        var body = Normalise(content);
        var action = current is null ? ChangeAction.Create : current == body ? ChangeAction.NoOp : ChangeAction.Update;
        var diff = action == ChangeAction.NoOp ? "" : TextFile.Diff(path, file, text, Set(text, module, body, position));
        return new Change(Address, module, action, TextFile.Value("sha256", current is null ? null : FileState.Digest(System.Text.Encoding.UTF8.GetBytes(current))),
            State.Of(("sha256", FileState.Digest(System.Text.Encoding.UTF8.GetBytes(body)))),
            action switch { ChangeAction.Create => $"add a block at the {position}", ChangeAction.Update => "block content", _ => "" }, diff)
        { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var file = fx.ReadFile(path);
        TextFile.Write(fx, path, file, Set(TextFile.Read(file, path), module, Normalise(content), position));
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(change.After);
    }

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var (path, module) = TextFile.PathAndName(entry.Address);
        var file = fx.ReadFile(path);
        var text = TextFile.Read(file, path);
        var current = Current(text, module);
        var currentSha = current is null ? null : FileState.Digest(System.Text.Encoding.UTF8.GetBytes(current));
        if (currentSha == entry.Before.Get("sha256")) return Task.FromResult(RestoreOutcome.Nothing);
        if (currentSha != entry.After.Get("sha256") && !force)
            return Task.FromResult(TextFile.Kept(path, $"harden's block '{module}' was edited since the run; kept (rollback --force removes it)"));
        var previous = entry.Before is null ? null : fx.Backup(path) is { } b && fx.ReadCopy(b.Copy) is { } old
            ? Current(System.Text.Encoding.UTF8.GetString(old), module) : null;
        TextFile.Write(fx, path, file, previous is null ? Remove(text, module) : Set(text, module, previous, "top"));
        fx.Report($"  restored block {module} in {path}");
        return Task.FromResult(RestoreOutcome.Done);
    }

    private static string Normalise(string body) => body.Length == 0 || body.EndsWith('\n') ? body : body + "\n";

    /// <summary>The block's body (lines between the markers), or null when there is none.</summary>
    public static string? Current(string text, string module)
    {
        var lines = TextFile.Lines(text);
        var start = Array.IndexOf(lines, Begin(module));
        if (start < 0) return null;
        var end = Array.IndexOf(lines, End(module), start + 1);
        return end < 0 ? null : string.Concat(lines[(start + 1)..end].Select(l => l + "\n"));
    }

    public static string Remove(string text, string module)
    {
        var lines = TextFile.Lines(text).ToList();
        var start = lines.IndexOf(Begin(module));
        var end = start < 0 ? -1 : lines.IndexOf(End(module), start + 1);
        if (end < 0) return text;
        lines.RemoveRange(start, end - start + 1);
        return string.Join('\n', lines);
    }

    public static string Set(string text, string module, string body, string position)
    {
        var lines = TextFile.Lines(text).ToList();
        var start = lines.IndexOf(Begin(module));
        var end = start < 0 ? -1 : lines.IndexOf(End(module), start + 1);
        var block = $"{Begin(module)}\n{body}{End(module)}";
        if (end >= 0)
        {
            lines.RemoveRange(start, end - start + 1);
            lines.Insert(start, block);
            return string.Join('\n', lines);
        }
        return position == "top" ? block + "\n" + text : TextFile.AppendLine(text, block);
    }
}
