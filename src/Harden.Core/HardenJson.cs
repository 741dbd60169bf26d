using System.Text.Json.Serialization;
using Harden.Execution;
using Harden.Planning;

namespace Harden;

/// <summary>Source-generated JSON for plans and run manifests: no reflection, NativeAOT-safe.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    UseStringEnumConverter = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Plan))]
[JsonSerializable(typeof(RunRecord))]
[JsonSerializable(typeof(Resources.Change))]
[JsonSerializable(typeof(Checking.CheckReport))]
[JsonSerializable(typeof(Evidence.EvidenceManifest))]
[JsonSerializable(typeof(Checking.FleetReport))]
public sealed partial class HardenJson : JsonSerializerContext;
