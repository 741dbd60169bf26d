using System.Collections.Immutable;
using System.Text.Json;

namespace Harden.Checking;

public sealed record HostSection(string Section, ControlStatus Status);

/// <summary>One host of a fleet: its check's totals, and per HIPAA paragraph the worst status of the controls citing it.</summary>
public sealed record FleetHost(
    string File,
    string Host,
    string Profile,
    string Platform,
    DateTimeOffset Time,
    CheckCounts Counts,
    ImmutableArray<string> Failing,
    ImmutableArray<HostSection> Sections);

/// <summary>One HIPAA paragraph across the fleet: how many hosts pass, fail, need review or have nothing for it.</summary>
public sealed record FleetSection(string Section, string Title, int Pass, int Fail, int Manual, int NotApplicable);

/// <summary>harden report merge: many hosts' check reports as one (hosts × HIPAA paragraphs).</summary>
public sealed record FleetReport(
    int FormatVersion,
    string Tool,
    DateTimeOffset Time,
    int Hosts,
    int HostsPassing,
    ImmutableArray<FleetSection> Sections,
    ImmutableArray<FleetHost> HostReports)
{
    public const int CurrentFormatVersion = 1;

    /// <summary>A paragraph's status on a host: failing if any control citing it fails, then to review, then passing.</summary>
    public static ControlStatus Worst(IEnumerable<ControlStatus> statuses)
    {
        var list = statuses.ToList();
        return list.Contains(ControlStatus.Fail) ? ControlStatus.Fail
            : list.Contains(ControlStatus.Manual) ? ControlStatus.Manual
            : list.Contains(ControlStatus.Pass) ? ControlStatus.Pass
            : ControlStatus.NotApplicable;
    }

    public static FleetReport Merge(IReadOnlyList<(string File, CheckReport Report)> reports, string tool, DateTimeOffset now)
    {
        var hosts = reports.Select(r => new FleetHost(
            r.File, r.Report.Host, r.Report.Profile, r.Report.Platform, r.Report.Time, r.Report.Counts,
            [.. r.Report.Controls.Where(c => c.Status == ControlStatus.Fail).Select(c => c.Id)],
            [.. r.Report.Controls.SelectMany(c => c.Citations.Select(ci => (ci.Section, c.Status))).GroupBy(x => x.Section, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new HostSection(g.Key, Worst(g.Select(x => x.Status))))])).ToImmutableArray();
        var sections = hosts.SelectMany(h => h.Sections).GroupBy(s => s.Section, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new FleetSection(g.Key, HipaaSections.Title(g.Key), g.Count(s => s.Status == ControlStatus.Pass), g.Count(s => s.Status == ControlStatus.Fail),
                g.Count(s => s.Status == ControlStatus.Manual), g.Count(s => s.Status == ControlStatus.NotApplicable))).ToImmutableArray();
        return new FleetReport(CurrentFormatVersion, tool, now, hosts.Length, hosts.Count(h => h.Counts.Fail == 0), sections, hosts);
    }

    /// <summary>
    /// Reading as strictly as docs/check.schema.json says: a key the schema does not have, a key given
    /// twice (the last would silently win, and a failing control could be merged as passing), or null
    /// where the schema wants a string are each refused.
    /// </summary>
    private static readonly HardenJson Strict = new(new JsonSerializerOptions(HardenJson.Default.Options)
    {
        AllowDuplicateProperties = false,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
    });

    /// <summary>
    /// Several reports of one host (the same host name and profile): refused, unless <paramref name="keepNewest"/>
    /// keeps each host's newest by its check time, and says which were dropped.
    /// </summary>
    public static IReadOnlyList<(string File, CheckReport Report)> OnePerHost(IReadOnlyList<(string File, CheckReport Report)> reports, bool keepNewest, Action<string> say)
    {
        var groups = reports.GroupBy(r => (r.Report.Host, r.Report.Profile)).ToList();
        if (groups.FirstOrDefault(g => g.Count() > 1) is { } twice && !keepNewest)
            throw new HardenException($"host {twice.Key.Host} ({twice.Key.Profile}) is in {string.Join(" and ", twice.Select(r => r.File))}: it would be counted twice. " +
                "Give each host once, or pass --keep-newest to keep each host's newest report");
        foreach (var g in groups.Where(g => g.Count() > 1))
            say($"{g.Key.Host}: kept {g.OrderByDescending(r => r.Report.Time).First().File} (newest), left out {string.Join(", ", g.OrderByDescending(r => r.Report.Time).Skip(1).Select(r => r.File))}");
        return [.. groups.Select(g => g.OrderByDescending(r => r.Report.Time).First())];
    }

    /// <summary>Reads one host's check JSON (bounded, never through a special file), refusing anything that is not one.</summary>
    public static CheckReport Read(string path)
    {
        var bytes = Host.ContainedDirectory.ReadInput(path, 64UL << 20, "check report");
        try
        {
            var report = JsonSerializer.Deserialize(bytes, Strict.CheckReport) ?? throw new HardenException($"check report '{path}' is empty");
            if (report.FormatVersion != CheckReport.CurrentFormatVersion)
                throw new HardenException($"check report '{path}' has format_version {report.FormatVersion}; this harden reads {CheckReport.CurrentFormatVersion}");
            if (report.Controls.IsDefault || report.Host is null || report.Counts is null)
                throw new HardenException($"check report '{path}' is incomplete (no host, counts or controls)");
            if (report.Controls.Any(c => c is null || c.Citations.IsDefault || c.Findings.IsDefault || c.Citations.Any(ci => ci is null) || c.Findings.Any(f => f is null) || !Enum.IsDefined(c.Status)))
                throw new HardenException($"check report '{path}' has a control that is null, lacks citations or findings, or has an unknown status");
            // The totals are the controls', never the file's own claim: an edited count cannot turn a failing host into a passing one.
            return report with { Counts = CheckReport.CountOf(report.Controls) };
        }
        catch (JsonException e)
        {
            throw new HardenException($"'{path}' is not a harden check report (harden check --format json): {e.Message}");
        }
    }
}
