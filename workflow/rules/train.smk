# ResNet18 training: one run per dataset × loss of params.yaml `networks`.
#
# The run directory holds the checkpoints and is NOT a declared output: Snakemake deletes declared
# outputs before a job (re)starts and after it fails, and a pre-empted (exit 75), requeued or
# retried job must find its checkpoints to resume.  The declared output is the `done.json` that
# `deepcollapse train` writes last.  When a training parameter changed, `--restart-if-changed`
# makes train delete the previous run and start over (execution settings such as the device
# never count as a change, so a run moved to another device resumes).

# NET_RUNS (the Snakefile): the resolved training config of every run, by name '<dataset>-<loss>'.
# networks.threads reserves the job's cores and reaches torch as `--threads {threads}` (the cores
# Snakemake gave the job).  The log gets one line per epoch and history.json is rewritten after each
# (--no-progress: no bar in a file).

# sbatch option (quoted for the SLURM executor, which pastes slurm_extra into its command line).
PREEMPT_SIGNAL = "'--signal=B:USR1@120'"


rule train:
    input:
        data=lambda w: NET_RUNS[w.run]["data"],
    output:
        OUT["train.done"],
    params:
        cfg=lambda w: as_json(NET_RUNS[w.run]),
        run_dir=OUT["train.run"],
    log:
        "results/logs/train/{run}.log",
    wildcard_constraints:
        run=choice(NET_RUNS),
    threads: NET["threads"]
    resources:
        **res("gpu"),
        # SLURM: signal the job 120 s before its time limit (B: the batch shell; the step then
        # ends and training gets SIGTERM, saves a resume checkpoint and exits 75; the retry
        # resumes).  Tested on a real SLURM: tests/system/test_slurm_workflow.py.
        slurm_extra=PREEMPT_SIGNAL,
    shell:
        CONFIG_FROM_STDIN + "{DC} train --config - --out {params.run_dir} --threads {threads} --restart-if-changed --no-progress > {log} 2>&1"


rule train_all:
    input:
        expand(OUT["train.done"], run=NET_RUNS),
