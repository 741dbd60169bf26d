using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// One line elsewhere in the sshd configuration that sets a managed key to another value: globally
/// (<c>sshd-conflict:FILE:LINE</c>, e.g. cloud-init's PasswordAuthentication yes) or inside a Match
/// block (<c>sshd-match:FILE:LINE</c>, which plain <c>sshd -T</c> never shows). Apply comments the
/// line out with a marker; restore puts exactly that line back, wherever edits since moved it.
/// </summary>
public sealed class SshdConflictResource(string module, string path, int line, string original, string key, string value,
    string wanted, string? match, string managedBy) : IResource, ITextEdit
{
    public const string GlobalKind = "sshd-conflict";
    public const string MatchKind = "sshd-match";

    public Address Address { get; } = new(match is null ? GlobalKind : MatchKind, $"{path}:{line}");
    public string Module => module;
    public string Path => path;
    public string Key => key;
    public string? Match => match;
    public string? Validator => Planner.SshdValidator;

    public string Edit(string current)
    {
        var lines = current.Split('\n');
        if (Locate(lines, original, line) is { } at) lines[at] = SshdConfig.Neutralised(original, managedBy);
        return string.Join('\n', lines);
    }

    public IEnumerable<HostQuery> Needs => [new(HostQueryKind.File, path)];
    public IEnumerable<Address> DependsOn => [];

    /// <summary>Finds every line in the host's sshd files (other than harden's own) that contradicts what harden manages.</summary>
    public static IEnumerable<SshdConflictResource> Discover(string module, string managedBy,
        ImmutableSortedDictionary<string, string> managed, HostSnapshot host, ISet<string> managedFiles)
    {
        foreach (var path in host.SshdIncludes.Append(HostReader.SshdConfig).Where(p => !managedFiles.Contains(p)))
        {
            var state = host.File(path);
            if (!state.Exists || state.Symlink is not null) continue;
            var lines = System.Text.Encoding.UTF8.GetString(state.Content).Split('\n');
            foreach (var s in SshdConfig.Parse(string.Join('\n', lines)))
            {
                if (!managed.TryGetValue(s.Key, out var want) || !SshdConfig.Weakens(s.Key, want, s.Value)) continue;
                yield return new SshdConflictResource(module, path, s.Line, lines[s.Line - 1], s.Key, s.Value, want, s.Match, managedBy);
            }
        }
    }

    public Change Plan(HostSnapshot host)
    {
        var after = SshdConfig.Neutralised(original, managedBy);
        var where = match is null ? "" : $" in 'Match {match}'";
        return new Change(Address, module, ChangeAction.Update, State.Of(("line", original)), State.Of(("line", after)),
            $"{key} {value}{where}; the profile wants {wanted}", $"-{original}\n+{after}\n") { Resource = this };
    }

    public Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var file = fx.ReadFile(path);
        var lines = TextFile.Read(file, path).Split('\n');
        // Another edit of this run (a block at the top of the file) may have moved the line.
        var at = Locate(lines, original, line)
            ?? throw new HardenException($"{path}:{line} changed since the plan was made; run 'harden plan' again");
        lines[at] = change.After!["line"];
        TextFile.Write(fx, path, file, string.Join('\n', lines));
        fx.Report($"  ~ neutralised {path}:{line} ({key} {value}{(match is null ? "" : $" in Match {match}")})");
        return Task.FromResult<ImmutableSortedDictionary<string, string>?>(change.After);
    }

    /// <summary>The index of the line with this exact text nearest to where it was seen (1-based), or null.</summary>
    private static int? Locate(string[] lines, string text, int near)
    {
        int? best = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i] == text && (best is null || Math.Abs(i - (near - 1)) < Math.Abs(best.Value - (near - 1)))) best = i;
        }
        return best;
    }

    public static Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var colon = entry.Address.Key.LastIndexOf(':');
        var path = entry.Address.Key[..colon];
        var number = int.Parse(entry.Address.Key[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var (before, after) = (entry.Before!["line"], entry.After!["line"]);
        var file = fx.ReadFile(path);
        if (file.Symlink is { } link) return Task.FromResult(TextFile.Kept(path, $"is now a symlink ({link}); not followed"));
        var lines = TextFile.Read(file, path).Split('\n');
        if (Locate(lines, after, number) is not { } at)
        {
            return Task.FromResult(Locate(lines, before, number) is not null
                ? RestoreOutcome.Nothing
                : TextFile.Kept($"{path}:{number}", $"the line harden commented out is no longer there; '{before}' was not put back"));
        }
        lines[at] = before;
        TextFile.Write(fx, path, file, string.Join('\n', lines));
        fx.Report($"  restored {path}:{at + 1}");
        return Task.FromResult(RestoreOutcome.Done);
    }
}
