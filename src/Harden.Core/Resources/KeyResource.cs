using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// One key in a file the distribution owns (<c>PASS_MAX_DAYS</c> in login.defs, <c>max_log_file_action</c>
/// in auditd.conf). Only that key's lines change: comments, order and every other line are kept.
/// Restore puts the old value back (or removes the line harden added) unless someone changed it since.
/// </summary>
public sealed class KeyResource(string module, string path, string key, string value, string separator) : IResource, ITextEdit
{
    public const string Kind = "key";

    public Address Address { get; } = new(Kind, $"{path}#{key}");
    public string Module => module;
    public string Path => path;
    public string? Validator => null;
    public string Edit(string current) => Set(current, key, value, separator);

    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, path)];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        var file = host.File(path);
        var text = TextFile.Read(file, path);
        var current = Current(text, key);
        var after = State.Of(("value", value));
        if (!file.Exists)
            return new Change(Address, module, ChangeAction.Create, null, after,
                $"{path} does not exist yet (a package of this run provides it); {key} will be set to {value}") { Resource = this };
        var action = current is null ? ChangeAction.Create : current == value ? ChangeAction.NoOp : ChangeAction.Update;
        var diff = action == ChangeAction.NoOp ? "" : TextFile.Diff(path, file, text, Set(text, key, value, separator));
        var reason = current is null ? $"add {key} {value}" : $"{key} {current} -> {value}";
        return new Change(Address, module, action, TextFile.Value("value", current), after, action == ChangeAction.NoOp ? "" : reason, diff)
        { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var file = fx.ReadFile(path);
        if (!file.Exists) throw new HardenException($"{path} does not exist, so {key} cannot be set (is its package installed?)");
        TextFile.Write(fx, path, file, Set(TextFile.Read(file, path), key, value, separator));
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(change.After);
    }

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var (path, key) = TextFile.PathAndName(entry.Address);
        var file = fx.ReadFile(path);
        var text = TextFile.Read(file, path);
        var current = Current(text, key);
        var before = entry.Before.Get("value");
        var wrote = entry.After.Get("value");
        if (current == before) return Task.FromResult(RestoreOutcome.Nothing);
        if (current != wrote && !force)
            return Task.FromResult(TextFile.Kept($"{path} {key}", $"is '{current ?? "(absent)"}' now, not the '{wrote}' harden set; kept (rollback --force sets it back to '{before ?? "(absent)"}')"));
        var restored = before is null ? Remove(text, key) : Set(text, key, before, " ");
        TextFile.Write(fx, path, file, restored);
        fx.Report($"  restored {key} in {path}");
        return Task.FromResult(RestoreOutcome.Done);
    }

    private static Regex Line(string key) => new($@"^(\s*){Regex.Escape(key)}(\s*=\s*|\s+)(.*?)\s*$", RegexOptions.CultureInvariant);

    /// <summary>The value of the first uncommented line for the key, or null.</summary>
    public static string? Current(string text, string key)
    {
        var line = Line(key);
        foreach (var l in TextFile.Lines(text))
        {
            if (line.Match(l) is { Success: true } m) return m.Groups[3].Value;
        }
        return null;
    }

    /// <summary>Sets every uncommented line for the key (keeping its indentation and separator), or appends one.</summary>
    public static string Set(string text, string key, string value, string separator)
    {
        var line = Line(key);
        var lines = TextFile.Lines(text);
        var found = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (line.Match(lines[i]) is not { Success: true } m) continue;
            lines[i] = m.Groups[1].Value + key + m.Groups[2].Value + value;
            found = true;
        }
        return found ? string.Join('\n', lines) : TextFile.AppendLine(text, key + separator + value);
    }

    public static string Remove(string text, string key)
    {
        var line = Line(key);
        return string.Join('\n', TextFile.Lines(text).Where(l => !line.IsMatch(l)));
    }
}
