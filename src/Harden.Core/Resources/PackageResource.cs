using System.Collections.Immutable;
using Harden.Execution;
using Harden.Host;

namespace Harden.Resources;

/// <summary>
/// A Debian package that must be installed (auditd) or absent (telnetd). Restore purges exactly the
/// packages an install pulled in, and reinstalls a removed package from apt's cache when its .deb is
/// still there. Under an offline root a policy-rc.d that exits 101 keeps package scripts from
/// starting daemons on the machine doing the build.
/// </summary>
/// <param name="removedWith">For a package that must be absent: the others the same list removes, which may depend on it.</param>
public sealed partial class PackageResource(string module, string name, bool present, IReadOnlySet<string>? removedWith = null) : IResource
{
    public const string Kind = "package";
    private const string PolicyRc = "/usr/sbin/policy-rc.d";

    /// <summary>Packages whose purge would delete audit records, which HIPAA keeps for six years.</summary>
    private static readonly string[] KeepsEvidence = ["auditd"];

    public Address Address { get; } = new(Kind, name);
    public string Module => module;
    public bool Present => present;
    public IEnumerable<HostQuery> Needs => [];
    public IEnumerable<Address> DependsOn => [];

    public Change Plan(HostSnapshot host)
    {
        var installed = host.Packages.TryGetValue(name, out var info);
        var before = installed ? State.Of(("installed", "yes"), ("version", info!.Version), ("arch", info.Architecture)) : null;
        if (!present && installed)
        {
            // apt would take every package that needs this one with it, unplanned and beyond rollback's
            // reach (nfs-common goes with rpcbind): such a package is kept, and the plan says why.
            var needed = host.Packages.Where(p => p.Key != name && !(removedWith?.Contains(p.Key) ?? false) && p.Value.Depends.Contains(name))
                .Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            if (needed.Count > 0)
                return new Change(Address, module, ChangeAction.NoOp, before, before,
                    $"kept: {string.Join(", ", needed)} need{(needed.Count == 1 ? "s" : "")} it; removing it would remove them too (remove them as well, or take {name} off the list)") { Resource = this };
        }
        return (present, installed) switch
        {
            (true, false) => new Change(Address, module, ChangeAction.Create, null, State.Of(("installed", "yes")), $"install {name}") { Resource = this },
            (false, true) => new Change(Address, module, ChangeAction.Delete, before, null, $"remove {name} {info!.Version}") { Resource = this },
            _ => new Change(Address, module, ChangeAction.NoOp, before, before, "") { Resource = this },
        };
    }

    public async Task<ImmutableSortedDictionary<string, string>?> ApplyAsync(Change change, IHostEffects fx, CancellationToken ct)
    {
        var before = fx.InstalledPackages();
        await WithoutServiceStartsAsync(fx, async () =>
        {
            string[] argv = present
                ? ["apt-get", "install", "-y", "--no-install-recommends", "--", name]
                : ["apt-get", "remove", "-y", "--", name];
            // Never cut apt or dpkg off half-way (that leaves dpkg needing repair): a signal waits for
            // this one command, then the run stops and restores.
            var result = await fx.RunAsync(argv, CancellationToken.None, retryable: true);
            ct.ThrowIfCancellationRequested();
            if (!result.Succeeded)
                throw new HardenException($"{CliWrapCommandRunner.Display(argv)} failed (exit {result.ExitCode}): {result.Message}");
        });
        if (!present) return null;
        // Everything the install brought in, so restore can purge exactly that and nothing else.
        var pulled = fx.InstalledPackages().Keys.Where(p => !before.ContainsKey(p)).Order(StringComparer.Ordinal);
        return State.Of(("installed", "yes"), ("pulled", string.Join(' ', pulled)));
    }

    /// <summary>
    /// Installs every package a run adds with one apt-get call (one dependency resolution, one dpkg
    /// run), after <see cref="PackageTransaction"/> checked it can. Returns each change's reached
    /// state in order: the last carries everything the install brought in ("pulled") and what apt
    /// removed ("removed", name=version=arch), so restore, which goes in reverse, undoes the whole
    /// transaction at its first step and reinstalls what apt took away.
    /// </summary>
    public static async Task<IReadOnlyList<ImmutableSortedDictionary<string, string>>> InstallAllAsync(IReadOnlyList<Change> installs, PackagePreflight preflight,
        IHostEffects fx, CancellationToken ct)
    {
        var names = installs.Select(c => c.Address.Key).Distinct().ToList();
        var before = fx.InstalledPackages();
        // A package left as config-files by an earlier removal keeps its old configuration if rollback takes it away again.
        var configBefore = HostReader.ReadPackageStatus(fx.Root).Where(p => p.Value == "config-files").Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        await WithoutServiceStartsAsync(fx, async () =>
        {
            string[] argv = ["apt-get", "install", "-y", "--no-install-recommends", "--", .. names];
            // Never cut apt or dpkg off half-way: a stop request ends the wait for another process's lock,
            // but once apt runs it finishes, then the run stops and restores.
            var result = await fx.RunAsync(argv, ct, retryable: true);
            ct.ThrowIfCancellationRequested();
            if (!result.Succeeded)
                throw new HardenException($"{CliWrapCommandRunner.Display(argv)} failed (exit {result.ExitCode}): {result.Message}");
        });
        var now = fx.InstalledPackages();
        // Only what this transaction brought: anything another process installed meanwhile (a kernel at first boot) is not the run's.
        var expected = preflight.NewPackages.Concat(names).ToHashSet(StringComparer.Ordinal);
        var pulled = now.Keys.Where(p => !before.ContainsKey(p) && expected.Contains(p)).Order(StringComparer.Ordinal).ToList();
        var removed = string.Join(' ', preflight.Removals.Where(r => !now.ContainsKey(r.Name)).Select(r => $"{r.Name}={r.Version}={r.Architecture}"));
        var kept = string.Join(' ', pulled.Where(configBefore.Contains));
        return [.. installs.Select((c, i) => i < installs.Count - 1
            ? State.Of(("installed", "yes"), ("pulled", ""))
            : State.Of(("installed", "yes"), ("pulled", string.Join(' ', pulled)), ("removed", removed), ("config_kept", kept)))];
    }

    /// <summary>Under an offline root, keeps package scripts from starting daemons while apt runs; removed after, also on failure.</summary>
    private static async Task WithoutServiceStartsAsync(IHostEffects fx, Func<Task> body)
    {
        var placed = !fx.Root.IsLive && !fx.ReadFile(PolicyRc).Exists;
        // Journalled first, so that a crash before the finally below still has it removed by rollback.
        if (placed) fx.PreserveDerived(PolicyRc, "packages");
        if (placed) fx.WriteFile(PolicyRc, "#!/bin/sh\n# harden: no daemon starts while packages install into an offline root\nexit 101\n"u8.ToArray(),
            (UnixFileMode)Convert.ToInt32("755", 8), 0, 0);
        try
        {
            await body();
        }
        finally
        {
            if (placed) fx.DeleteFile(PolicyRc);
        }
    }

    public static async Task<RestoreOutcome> RestoreAsync(JournalEntry entry, IHostEffects fx, bool force, CancellationToken ct)
    {
        var name = entry.Address.Key;
        var installed = fx.InstalledPackages();
        if (entry.Before is null)
        {
            // Any trace counts (half-installed after an interrupted install, config-files), not only "installed".
            var present = HostReader.ReadPackageStatus(fx.Root);
            var pulled = (entry.After.Get("pulled") ?? name).Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Where(p => present.TryGetValue(p, out var status) && status != "not-installed").ToList();
            if (pulled.Count == 0) return await ReinstallRemovedAsync(entry, fx, RestoreOutcome.Nothing);
            // dpkg, not apt: it refuses when something installed since depends on them, instead of
            // removing that too. Purged so /etc returns to what it was, except packages whose purge
            // deletes audit records (auditd's postrm removes /var/log/audit): those are only removed.
            // Not purged: packages whose purge deletes audit records, and those whose configuration was there before the run.
            var configKept = (entry.After.Get("config_kept") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var purge = pulled.Where(p => !KeepsEvidence.Contains(p) && !configKept.Contains(p)).ToList();
            var keep = pulled.Except(purge).ToList();
            // All removed in one dpkg call first (it orders packages that need each other, audispd-plugins
            // before auditd); then purged, except those whose purge would delete audit records.
            var removed = await WithPolicyAsync(fx, () => fx.RunAsync(["dpkg", "--remove", .. pulled], CancellationToken.None));
            if (!removed.Succeeded)
                return new RestoreOutcome(false, $"package {name}: dpkg --remove {string.Join(' ', pulled)} failed (exit {removed.ExitCode}): {removed.Message}");
            if (keep.Count > 0)
                fx.Report($"  note: {string.Join(", ", keep)} removed but not purged: their audit records and configuration are evidence and stay");
            if (purge.Count == 0) return await ReinstallRemovedAsync(entry, fx, RestoreOutcome.Done);
            var result = await WithPolicyAsync(fx, () => fx.RunAsync(["dpkg", "--purge", .. purge], CancellationToken.None));
            return result.Succeeded ? await ReinstallRemovedAsync(entry, fx, RestoreOutcome.Done)
                : new RestoreOutcome(false, $"package {name}: dpkg --purge {string.Join(' ', purge)} failed (exit {result.ExitCode}): {result.Message}");
        }
        if (installed.ContainsKey(name)) return RestoreOutcome.Nothing;
        var version = entry.Before["version"];
        var deb = $"/var/cache/apt/archives/{name}_{version.Replace(":", "%3a", StringComparison.Ordinal)}_{entry.Before["arch"]}.deb";
        if (!fx.ReadFile(deb).Exists)
            return new RestoreOutcome(false, $"package {name} {version} was removed and its .deb is no longer in apt's cache; reinstall with: apt-get install {name}={version}");
        var install = await WithPolicyAsync(fx, () => fx.RunAsync(["dpkg", "-i", deb], ct, retryable: true));
        return install.Succeeded ? RestoreOutcome.Done
            : new RestoreOutcome(false, $"package {name}: dpkg -i {deb} failed (exit {install.ExitCode}): {install.Message}; reinstall with: apt-get install {name}={version}");
    }

    /// <summary>
    /// Puts back what apt removed when the run's packages went in (systemd-timesyncd for chrony): from
    /// the .deb apply kept in apt's cache, else from a package source at the version it had.
    /// </summary>
    private static async Task<RestoreOutcome> ReinstallRemovedAsync(JournalEntry entry, IHostEffects fx, RestoreOutcome sofar)
    {
        var removed = (entry.After.Get("removed") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(r => r.Split('=')).Where(p => p.Length == 3).ToList();
        if (removed.Count == 0) return sofar;
        var installed = fx.InstalledPackages();
        var failed = new List<string>();
        var done = false;
        foreach (var (name, version, arch) in removed.Select(p => (p[0], p[1], p[2])).Where(r => !installed.ContainsKey(r.Item1)))
        {
            if (!DebianName().IsMatch(name) || !DebianVersion().IsMatch(version) || !DebianName().IsMatch(arch))
            {
                failed.Add($"{name}: the journal's record of it is not a package name and version");
                continue;
            }
            var deb = $"/var/cache/apt/archives/{name}_{version.Replace(":", "%3a", StringComparison.Ordinal)}_{arch}.deb";
            var result = fx.ReadFile(deb).Exists
                ? await WithPolicyAsync(fx, () => fx.RunAsync(["dpkg", "-i", deb], CancellationToken.None, retryable: true))
                : await WithPolicyAsync(fx, () => fx.RunAsync(["apt-get", "install", "-y", "--no-install-recommends", "--", $"{name}={version}"], CancellationToken.None, retryable: true));
            if (result.Succeeded)
            {
                fx.Report($"  reinstalled {name} {version}, which apt had removed for the run's packages");
                done = true;
            }
            else failed.Add($"{name} {version} (removed by apt for the run's packages) could not be reinstalled: {result.Message.Split('\n')[0]}; reinstall with: apt-get install {name}={version}");
        }
        return failed.Count > 0 ? new RestoreOutcome(false, $"package {entry.Address.Key}: {string.Join("; ", failed)}")
            : done ? RestoreOutcome.Done : sofar;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]*$")]
    private static partial System.Text.RegularExpressions.Regex DebianName();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9.+~:-]+$")]
    private static partial System.Text.RegularExpressions.Regex DebianVersion();

    private static async Task<CommandResult> WithPolicyAsync(IHostEffects fx, Func<Task<CommandResult>> run)
    {
        CommandResult? result = null;
        await WithoutServiceStartsAsync(fx, async () => result = await run());
        return result!;
    }
}
