using System.Collections.Concurrent;
using Harden.Host;
using Harden.Profiles;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace Harden.Rendering;

/// <summary>
/// Renders templates with Scriban in strict mode: a misspelt variable is an error naming the
/// template and line, never an empty string silently written into a security setting.
/// </summary>
public sealed class TemplateRenderer(ITemplateSource source)
{
    private readonly ConcurrentDictionary<string, Template> _parsed = new(StringComparer.Ordinal);

    // Scriban's functions (string, array, math…), made once per renderer and frozen: a
    // TemplateContext made without them deep-copies the whole library for every one of a plan's
    // renders. A template's own assignments go to the model pushed above them, made per render.
    private readonly ScriptObject _builtins = Frozen(new Scriban.Functions.BuiltinFunctions());

    public string Render(string templateName, IReadOnlyDictionary<string, VariableValue> variables) =>
        Render(templateName, _parsed.GetOrAdd(templateName, Parse), variables);

    /// <summary>Renders a short text from a profile (a path, a key's value) with the same strict rules.</summary>
    public string RenderInline(string text, string where, IReadOnlyDictionary<string, VariableValue> variables)
    {
        if (!text.Contains("{{", StringComparison.Ordinal)) return text;
        var template = _parsed.GetOrAdd("inline:" + text, _ =>
        {
            var parsed = Template.Parse(text, where);
            if (parsed.HasErrors)
                throw new HardenException($"{where}: '{text}': {parsed.Messages.First(m => m.Type == ParserMessageType.Error).Message}");
            return parsed;
        });
        return Render(where, template, variables);
    }

    private string Render(string templateName, Template template, IReadOnlyDictionary<string, VariableValue> variables)
    {
        var context = new TemplateContext(_builtins)
        {
            StrictVariables = true,
            EnableRelaxedMemberAccess = false,
            TemplateLoader = new ConfinedLoader(source),
            MemberRenamer = member => member.Name,
            LoopLimit = 10_000,
            RecursiveLimit = 32,
        };
        context.PushGlobal(Model(variables));
        try
        {
            return template.Render(context);
        }
        catch (ScriptRuntimeException e)
        {
            throw new HardenException($"template {Where(templateName, e.Span)}: {e.OriginalMessage}");
        }
    }

    private static ScriptObject Frozen(ScriptObject builtins)
    {
        foreach (var value in builtins.Values)
        {
            if (value is IScriptObject library) library.IsReadOnly = true;
        }
        ((IScriptObject)builtins).IsReadOnly = true;
        return builtins;
    }

    /// <summary>The variables as Scriban values, new for each render so no template's assignment reaches another.</summary>
    private static ScriptObject Model(IReadOnlyDictionary<string, VariableValue> variables)
    {
        var model = new ScriptObject();
        foreach (var (name, value) in variables)
        {
            model.Add(name, value switch
            {
                VariableValue.Number n => n.Value,
                VariableValue.Flag f => f.Value,
                VariableValue.List l => new ScriptArray(l.Items),
                _ => value.ToString(),
            });
        }
        return model;
    }

    private Template Parse(string name)
    {
        var text = source.TryRead(name) ?? throw new HardenException($"template '{name}' not found in templates/");
        var template = Template.Parse(text, name);
        if (template.HasErrors)
        {
            var first = template.Messages.First(m => m.Type == ParserMessageType.Error);
            throw new HardenException($"template {Where(name, first.Span)}: {first.Message}");
        }
        return template;
    }

    private static string Where(string name, SourceSpan span) => $"{name}:{span.Start.Line + 1}";

    /// <summary>Includes resolve only to other templates of the same source.</summary>
    private sealed class ConfinedLoader(ITemplateSource source) : ITemplateLoader
    {
        public string GetPath(TemplateContext context, SourceSpan callerSpan, string templateName)
        {
            if (!SafePath.IsRelative(templateName))
                throw new ScriptRuntimeException(callerSpan, $"include '{templateName}' must be a relative path inside templates/");
            return templateName;
        }

        public string Load(TemplateContext context, SourceSpan callerSpan, string templatePath) =>
            source.TryRead(templatePath) ?? throw new ScriptRuntimeException(callerSpan, $"include '{templatePath}' not found");

        public ValueTask<string?> LoadAsync(TemplateContext context, SourceSpan callerSpan, string templatePath) =>
            ValueTask.FromResult<string?>(Load(context, callerSpan, templatePath));
    }
}
