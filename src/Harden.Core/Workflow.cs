using System.Text.Json;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden;

/// <summary>What a plan or apply request names: a profile (null: the shipped one for the host's release) and its variable settings.</summary>
/// <param name="ForcePlatform">Run a profile on a release it does not list in <c>supports</c>.</param>
public sealed record PlanRequest(string? Profile, IReadOnlyList<string> Assignments, string? TemplatesDirectory, string? Operator, bool ForcePlatform = false);

/// <summary>
/// Wires the one-way flow: profile → resources → read host → plan. Each step is its own type; this
/// class only sequences them, so the CLI stays thin and tests can drive the same path.
/// </summary>
public static class Workflow
{
    public static Plan CreatePlan(PlanRequest request, HostRoot root)
    {
        var release = OsRelease.Read(root);
        var profile = request.Profile is { } named ? ProfileLoader.Load(named) : ProfileFor(release);
        if (!profile.Supported(release) && !request.ForcePlatform)
            throw new HardenException($"profile {profile.Name} is made for {string.Join(", ", profile.Supports)}; this root is {release}. "
                + $"Pick the matching profile (or leave out --profile and harden picks it), or pass --force-platform to run it anyway");
        var variables = VariableBinder.Bind(profile, request.Assignments, release);
        ITemplateSource templates = request.TemplatesDirectory is { } dir
            ? new DirectoryTemplateSource(dir, EmbeddedTemplateSource.Instance)
            : EmbeddedTemplateSource.Instance;
        var desired = DesiredState.Render(profile, variables, new TemplateRenderer(templates));
        var host = HostReader.Read(root, Planner.Needs(desired));
        var plan = Planner.Create(desired, host);
        // A saved plan records how it was asked for with full paths, so apply can ask again from anywhere.
        var absolute = request with
        {
            Profile = request.Profile is null ? profile.Name : ProfileLoader.LooksLikePath(request.Profile) ? Path.GetFullPath(request.Profile) : request.Profile,
            TemplatesDirectory = request.TemplatesDirectory is { } t ? Path.GetFullPath(t) : null,
        };
        IReadOnlyCollection<string> Names(string variable) =>
            desired.Variables.TryGetValue(variable, out var v) && v is VariableValue.List list ? list.Items : [];
        var impact = Access.AccessModel.Assess(plan, host, Names(Access.AccessModel.AutomationVariable), Names(Access.AccessModel.ShutOutVariable),
            [.. Names("ssh_allow_members"), .. request.Operator is { } op ? new[] { op } : []]);
        return plan with
        {
            Impact = impact,
            // The operator and "somebody must remain" first; then every other account that would lose access.
            LockoutRisk = LockoutGuard.Assess(plan, host, request.Operator) ?? Access.AccessModel.Refusal(impact) ?? Access.FirewallReach.Refusal(plan, host),
            Request = absolute,
            Platform = release.ToString(),
            ProfileDetected = request.Profile is null,
        };
    }

    /// <summary>
    /// harden check: plans (read-only) and turns the plan into a control per module, then adds what
    /// only probes can see (sshd -T, the PAM stack, encryption, the clock, backups, MFA, the BAA).
    /// </summary>
    public static async Task<(Checking.CheckReport Report, Plan Plan)> CheckAsync(PlanRequest request, HostRoot root, Execution.ICommandRunner runner, DateTimeOffset now, CancellationToken ct)
    {
        var plan = CreatePlan(request, root);
        var profile = ProfileLoader.Load(plan.Request!.Profile!);
        var probes = new Checking.HostProbes(root, new Checking.TimeLimitedRunner(runner, ProbeLimit))
        {
            BackupLogDirectory = plan.Variables.GetValueOrDefault("backup_log_directory", "/var/log/hipaa-backup"),
        };
        var controls = Checking.ComplianceCheck.Controls(profile, plan).AddRange(await probes.RunAsync(plan, plan.Variables, ct));
        return (new Checking.CheckReport(Checking.CheckReport.CurrentFormatVersion, ToolVersion, plan.Profile, HostName(root), root.Path, root.IsLive,
            plan.Platform ?? "", now, Checking.CheckReport.CountOf(controls), controls), plan);
    }

    /// <summary>How long one read-only program of check or evidence may run (sshd -T, lastb, openssl).</summary>
    public static readonly TimeSpan ProbeLimit = TimeSpan.FromSeconds(60);

    /// <summary>harden's version as built (the informational version carries the commit when the build knows it).</summary>
    public static string ToolVersion =>
        typeof(Workflow).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0.0.0";

    /// <summary>The host's name: this machine's, or the image's /etc/hostname (one printable line at most).</summary>
    public static string HostName(HostRoot root)
    {
        if (root.IsLive) return Environment.MachineName;
        var (_, content) = root.Read("/etc/hostname", 4096);
        var name = content is null ? "" : System.Text.Encoding.UTF8.GetString(content).Split('\n')[0].Trim();
        // Only what hostname(7) allows: a report header cannot be made to say something else.
        return name.Length is > 0 and <= 253 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') ? name : "(unnamed image)";
    }

    /// <summary>The shipped profile whose <c>supports</c> names this release.</summary>
    public static Profile ProfileFor(OsRelease release)
    {
        var shipped = EmbeddedProfileSource.Instance.Names().Select(ProfileLoader.Load).Where(p => !p.Supports.IsEmpty).ToList();
        return shipped.FirstOrDefault(p => p.Supported(release))
            ?? throw new HardenException($"no shipped profile supports this root, {release}; shipped: "
                + string.Join("; ", shipped.Select(p => $"{p.Name} ({string.Join(", ", p.Supports)})"))
                + ". Name one with --profile and pass --force-platform to run it anyway");
    }

    public static Plan ReadSavedPlan(string path)
    {
        var bytes = Host.ContainedDirectory.ReadInput(path, 64UL << 20, "plan file");
        try
        {
            var plan = JsonSerializer.Deserialize(bytes, HardenJson.Default.Plan)
                ?? throw new HardenException($"plan file '{path}' is empty");
            if (plan.FormatVersion != Plan.CurrentFormatVersion)
                throw new HardenException($"plan file '{path}' has format_version {plan.FormatVersion}; this harden reads {Plan.CurrentFormatVersion}");
            if (plan.Request is null) throw new HardenException($"plan file '{path}' does not say which profile it was made from");
            return plan;
        }
        catch (JsonException e)
        {
            throw new HardenException($"plan file '{path}' is not a harden plan: {e.Message}");
        }
    }

    /// <summary>
    /// A saved plan is a promise of what apply will do. Apply plans again from the same request and
    /// goes ahead only if every change is the same (same resources, same before and after): a host
    /// that moved on, or a plan file edited by hand, is refused as stale.
    /// </summary>
    public static Plan Refresh(Plan saved, string savedPath, HostRoot root)
    {
        var fresh = CreatePlan(saved.Request!, root);
        var savedChanges = saved.Changes.Where(c => c.IsChange).ToList();
        var freshChanges = fresh.Pending.ToList();
        var differ = savedChanges.Where(s => !freshChanges.Any(f => f.SameEffect(s))).Select(c => c.Address.ToString())
            .Concat(freshChanges.Where(f => !savedChanges.Any(s => s.SameEffect(f))).Select(c => c.Address.ToString()))
            .Distinct().ToList();
        if (differ.Count > 0)
            throw new HardenException($"stale plan: the host (or {savedPath}) changed since it was made ({string.Join(", ", differ)}); run 'harden plan' again");
        return fresh;
    }

    public static void EnsureNoUnfinishedRun(HostRoot root)
    {
        if (RunJournal.FindUnfinished(root) is { } run)
            throw new HardenException($"run {run.RunId} did not finish (the process died mid-run); restore the host with 'harden rollback{(root.IsProcessRoot ? "" : $" --root {root.Path}")} --run {run.RunId}' first");
    }
}
