using System.Text.Json;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden;

/// <summary>What a plan or apply request names: a profile and its variable settings.</summary>
public sealed record PlanRequest(string Profile, IReadOnlyList<string> Assignments, string? TemplatesDirectory, string? Operator);

/// <summary>
/// Wires the one-way flow: profile → render → read host → plan. Each step is its own type; this
/// class only sequences them, so the CLI stays thin and tests can drive the same path.
/// </summary>
public static class Workflow
{
    public static Plan CreatePlan(PlanRequest request, HostRoot root)
    {
        var profile = ProfileLoader.Load(request.Profile);
        var variables = VariableBinder.Bind(profile, request.Assignments);
        ITemplateSource templates = request.TemplatesDirectory is { } dir
            ? new DirectoryTemplateSource(dir, EmbeddedTemplateSource.Instance)
            : EmbeddedTemplateSource.Instance;
        var desired = DesiredState.Render(profile, variables, new TemplateRenderer(templates));
        var host = HostReader.Read(root, desired.Files.Select(f => f.File.Path));
        var plan = Planner.Create(desired, host);
        var members = desired.ActiveModules.SelectMany(m => Planner.Members(desired, m)).ToHashSet(StringComparer.Ordinal);
        return plan with { LockoutRisk = LockoutGuard.Assess(plan, host, request.Operator, members) };
    }

    public static Plan ReadSavedPlan(string path)
    {
        if (!File.Exists(path)) throw new HardenException($"plan file '{path}' does not exist");
        try
        {
            var plan = JsonSerializer.Deserialize(File.ReadAllBytes(path), HardenJson.Default.Plan)
                ?? throw new HardenException($"plan file '{path}' is empty");
            if (plan.FormatVersion != Plan.CurrentFormatVersion)
                throw new HardenException($"plan file '{path}' has format_version {plan.FormatVersion}; this harden reads {Plan.CurrentFormatVersion}");
            return plan;
        }
        catch (JsonException e)
        {
            throw new HardenException($"plan file '{path}' is not a harden plan: {e.Message}");
        }
    }

    /// <summary>A saved plan is only as good as the host it was made from: refuse it when any file moved on.</summary>
    public static void EnsureFresh(Plan plan, HostRoot root)
    {
        var stale = plan.Files
            .Select(f => (f.Path, Expected: f.BeforeSha256, Actual: HostReader.ReadFile(root, f.Path).Sha256))
            .Where(x => x.Expected != x.Actual)
            .Select(x => x.Path)
            .ToList();
        if (stale.Count > 0)
            throw new HardenException($"stale plan: the host changed since it was made ({string.Join(", ", stale)}); run 'harden plan' again");
    }

    public static void EnsureNoUnfinishedRun(HostRoot root)
    {
        if (RunJournal.FindUnfinished(root) is { } run)
            throw new HardenException($"run {run.RunId} did not finish (the process died mid-run); restore the host with 'harden rollback --run {run.RunId}' first");
    }
}
