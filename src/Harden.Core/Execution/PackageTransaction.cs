using System.Collections.Immutable;
using Harden.Host;
using Harden.Resources;

namespace Harden.Execution;

/// <summary>A package apt removes because one it installs conflicts with it (chrony replaces systemd-timesyncd).</summary>
public sealed record SideRemoval(string Name, string Version, string Architecture)
{
    public override string ToString() => $"{Name} {Version}";
}

/// <summary>What the checks before any write found: apt can install everything, what it will add (new packages only) and what it will remove to do so.</summary>
public sealed record PackagePreflight(ImmutableArray<string> Packages, ImmutableArray<SideRemoval> Removals)
{
    /// <summary>The packages the transaction newly installs, from apt's simulation ("Inst NAME (…)", not upgrades "Inst NAME [old] (…)").</summary>
    public ImmutableArray<string> NewPackages { get; init; } = [];

    /// <summary>Of those, the ones dpkg still holds configuration files of (removed, not purged, before the run): never purged by rollback.</summary>
    public ImmutableArray<string> ConfigKept { get; init; } = [];

    /// <summary>The journal state each install is begun with, so a run killed mid-transaction is undone as fully as a finished one.</summary>
    public ImmutableSortedDictionary<string, string> Expected(bool last) => last
        ? State.Of(("installed", "yes"), ("pulled", string.Join(' ', NewPackages)), ("removed", string.Join(' ', Removals.Select(r => $"{r.Name}={r.Version}={r.Architecture}"))),
            ("config_kept", string.Join(' ', ConfigKept)))
        : State.Of(("installed", "yes"), ("pulled", ""));
}

/// <summary>
/// Every package a plan installs, as one apt transaction, checked before anything is written: apt's
/// lists refreshed once when they are missing (fresh cloud images have none) or older than a bound,
/// each package's candidate confirmed, and apt asked (<c>apt-get -s</c>) what it would remove to
/// install them. A host that cannot get the packages fails here, with nothing changed, naming the
/// packages and the ways to provide them.
/// </summary>
public sealed class PackageTransaction(HostRoot root, ICommandRunner runner, Action<string> report, TimeSpan lockTimeout, TimeProvider time, TimeSpan? retryDelay = null)
{
    private const string Lists = "/var/lib/apt/lists";

    /// <summary>Lists older than this are refreshed before an install (the mirror may have dropped the versions they name).</summary>
    public static readonly TimeSpan ListsMaxAge = TimeSpan.FromHours(24);

    public async Task<PackagePreflight> PrepareAsync(IReadOnlyList<Change> installs, CancellationToken ct)
    {
        var names = installs.Select(c => c.Address.Key).Distinct().ToImmutableArray();
        var modules = installs.GroupBy(c => c.Address.Key).ToDictionary(g => g.Key, g => string.Join("/", g.Select(c => c.Module).Distinct()));
        string? updateProblem = null;
        var age = ListsAge();
        if (age is null || age > ListsMaxAge)
        {
            report(age is not { } hours ? $"  apt has no package lists ({Lists} is empty, as on a fresh image): refreshing them once"
                : $"  apt's package lists are {hours.TotalHours:0} hours old: refreshing them once");
            var update = await RunAsync(["apt-get", "update"], ct);
            // apt-get update exits 0 with "W: Failed to fetch" when a source is unreachable: its words are kept for the error below.
            var warnings = string.Join("; ", (update.StandardError + "\n" + update.StandardOutput).Split('\n')
                .Where(l => l.StartsWith("W:", StringComparison.Ordinal) || l.StartsWith("E:", StringComparison.Ordinal) || l.StartsWith("Err:", StringComparison.Ordinal))
                .Select(l => l.Trim()).Distinct().Take(4));
            if (!update.Succeeded || warnings.Length > 0) updateProblem = $"apt-get update {(update.Succeeded ? "warned" : $"failed (exit {update.ExitCode})")}: {(warnings.Length > 0 ? warnings : update.Message)}";
        }
        var missing = await WithoutCandidateAsync(names, ct);
        if (missing.Count > 0)
        {
            var list = string.Join(", ", missing.Select(p => $"{p} (module {modules[p]})"));
            throw new HardenException(
                $"cannot install {list}: no package source this host reaches offers {(missing.Count == 1 ? "it" : "them")}" +
                $"{(updateProblem is null ? "" : $" ({updateProblem})")}. Nothing was changed. Provide the packages by one of: " +
                "a reachable mirror or a local repository in /etc/apt/sources.list(.d) (e.g. 'deb [trusted=yes] file:/srv/repo ./'); " +
                $"installing them in the image beforehand (apt-get install {string.Join(' ', missing)}); " +
                $"or turning their modules off (remove_modules: [{string.Join(", ", missing.Select(p => modules[p]).Distinct())}] in a profile that extends this one)");
        }
        var (removals, added) = await SimulateAsync(names, ct);
        foreach (var r in removals)
            report($"  apt will also remove {r} (it conflicts with a package being installed); it is recorded, and rollback reinstalls it");
        // Everything downloaded before the first write: a mirror that answers lists but not packages fails here.
        var download = await RunAsync(["apt-get", "install", "-y", "--download-only", "--no-install-recommends", "--", .. names], ct);
        if (!download.Succeeded)
            throw new HardenException($"apt could not download {string.Join(", ", names)} (exit {download.ExitCode}): {FirstErrors(download)}. Nothing was changed");
        await KeepDebsAsync(removals, ct);
        var status = HostReader.ReadPackageStatus(root);
        return new PackagePreflight(names, removals)
        {
            NewPackages = added,
            ConfigKept = [.. added.Where(p => status.GetValueOrDefault(p) == "config-files")],
        };
    }

    /// <summary>The age of the newest list apt has; null when it has none.</summary>
    private TimeSpan? ListsAge()
    {
        IReadOnlyList<(string Name, EntryKind Kind)>? entries;
        try
        {
            entries = root.Files.List(HostRoot.Relative(Lists));
        }
        catch (PathBlockedException)
        {
            return null;
        }
        var newest = (entries ?? []).Where(e => e.Kind == EntryKind.File && e.Name.Contains("_Packages", StringComparison.Ordinal))
            .Select(e => File.GetLastWriteTimeUtc(root.Map($"{Lists}/{e.Name}"))).DefaultIfEmpty(DateTime.MinValue).Max();
        return newest == DateTime.MinValue ? null : time.GetUtcNow().UtcDateTime - newest;
    }

    /// <summary>The packages apt has no candidate for (<c>apt-cache policy</c>: "Candidate: (none)", or no entry at all).</summary>
    private async Task<List<string>> WithoutCandidateAsync(ImmutableArray<string> names, CancellationToken ct)
    {
        var policy = await runner.RunAsync(["apt-cache", "policy", "--", .. names], ct);
        var candidates = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in policy.StandardOutput.Split('\n'))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && line.EndsWith(':')) current = line[..^1];
            else if (current is not null && line.Trim().StartsWith("Candidate:", StringComparison.Ordinal)) candidates[current] = line.Trim()["Candidate:".Length..].Trim();
        }
        return [.. names.Where(n => !candidates.TryGetValue(n, out var c) || c == "(none)")];
    }

    private static string FirstErrors(CommandResult result) =>
        string.Join("; ", (result.StandardError + "\n" + result.StandardOutput).Split('\n').Select(l => l.Trim())
            .Where(l => l.StartsWith("E:", StringComparison.Ordinal) || l.StartsWith("Err:", StringComparison.Ordinal) || l.StartsWith("W:", StringComparison.Ordinal))
            .Distinct().Take(4)) is { Length: > 0 } errors ? errors : result.Message;

    /// <summary>
    /// What apt would remove to install the packages (its simulation's "Remv" lines, with the installed
    /// version and architecture), and what it would newly install ("Inst" lines without an old version).
    /// </summary>
    private async Task<(ImmutableArray<SideRemoval> Removals, ImmutableArray<string> Added)> SimulateAsync(ImmutableArray<string> names, CancellationToken ct)
    {
        var simulation = await runner.RunAsync(["apt-get", "-s", "install", "--no-install-recommends", "--", .. names], ct);
        if (!simulation.Succeeded)
            throw new HardenException($"apt cannot install {string.Join(", ", names)} (apt-get -s install, exit {simulation.ExitCode}): {simulation.Message}. Nothing was changed");
        var installed = HostReader.ReadInstalledPackages(root);
        var lines = simulation.StandardOutput.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        ImmutableArray<SideRemoval> removals = [.. lines.Where(w => w is ["Remv", _, ..]).Select(w => w[1].Split(':')[0])
            .Where(installed.ContainsKey).Select(n => new SideRemoval(n, installed[n].Version, installed[n].Architecture))];
        ImmutableArray<string> added = [.. lines.Where(w => w is ["Inst", _, var next, ..] && !next.StartsWith('[')).Select(w => w[1].Split(':')[0]).Distinct()];
        return (removals, added);
    }

    /// <summary>
    /// Puts the .deb of each package apt will remove into apt's cache first (it is still on the mirror
    /// now), so rollback can reinstall it without a package source. Best effort: rollback falls back
    /// to apt-get, and says so.
    /// </summary>
    private async Task KeepDebsAsync(ImmutableArray<SideRemoval> removals, CancellationToken ct)
    {
        foreach (var r in removals)
        {
            var kept = await RunAsync(["apt-get", "install", "--reinstall", "--download-only", "-y", "--no-install-recommends", "--", $"{r.Name}={r.Version}"], ct);
            if (!kept.Succeeded) report($"  could not keep {r.Name} {r.Version}'s .deb for rollback ({kept.Message.Split('\n')[0]}); rollback will need a package source to reinstall it");
        }
    }

    private async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        report($"  $ {CliWrapCommandRunner.Display(argv)}");
        using var grace = StopGrace.For(ct);
        return await AptLock.Pipeline(report, lockTimeout, retryDelay ?? TimeSpan.FromSeconds(5), time)
            .ExecuteAsync(async token => await runner.RunAsync(argv, token), grace.Token);
    }
}
