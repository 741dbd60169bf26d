using System.Collections.Immutable;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden.Planning;

public sealed record RenderedFile(Module Module, ManagedFile File, string Content);

/// <summary>The files a profile wants, rendered, and the modules it leaves out (with the reason).</summary>
public sealed record DesiredState(
    Profile Profile,
    ImmutableSortedDictionary<string, VariableValue> Variables,
    ImmutableArray<RenderedFile> Files,
    ImmutableArray<Module> ActiveModules,
    ImmutableArray<SkippedModule> Skipped)
{
    public static DesiredState Render(Profile profile, ImmutableSortedDictionary<string, VariableValue> variables, TemplateRenderer renderer)
    {
        var files = ImmutableArray.CreateBuilder<RenderedFile>();
        var active = ImmutableArray.CreateBuilder<Module>();
        var skipped = ImmutableArray.CreateBuilder<SkippedModule>();
        foreach (var module in profile.Modules)
        {
            var unset = module.Requires.Where(r => variables[r].IsEmpty).ToList();
            if (unset.Count > 0)
            {
                skipped.Add(new SkippedModule(module.Id, $"{string.Join(", ", unset)} is not set (--set {unset[0]}=…)"));
                continue;
            }
            active.Add(module);
            foreach (var file in module.Files)
                files.Add(new RenderedFile(module, file, renderer.Render(file.Template, variables)));
        }
        var clash = files.GroupBy(f => f.File.Path).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new HardenException($"profile '{profile.Name}': {clash.Key} is managed by more than one module ({string.Join(", ", clash.Select(f => f.Module.Id))})");
        return new DesiredState(profile, variables, files.ToImmutable(), active.ToImmutable(), skipped.ToImmutable());
    }
}
