# How run.sh runs its jobs (Kaldi's cmd.sh). Sourced by run.sh before the options are parsed.
#
# One variable picks the back end:
#   cmd_backend=local  utils/run.pl runs every JOB=1:N job array on this machine (default);
#   cmd_backend=slurm  utils/slurm.pl submits each array as one Slurm array job and waits for it.
# Set it here, or per run from the environment:  SEEDKIT_CMD=slurm ./run.sh --stage 4
# Cluster-wide sbatch options (partition, account, qos, time) go in slurm_opts, e.g.
#   SEEDKIT_SLURM_OPTS="--partition gpu --account myproj --time 24:00:00" SEEDKIT_CMD=slurm ./run.sh
# slurm.pl turns --mem/--gpu/--num-threads/--time/--partition/--account/--qos/--constraint into
# sbatch flags (utils/slurm.pl --help); run.pl accepts and ignores them, so the same commands work
# on both back ends.
#
# The job classes (run.sh adds the GPU count: --gpu 0 with --device cpu, else 1 per embedding or
# enhancement job and <nproc-per-node> for the training task, which runs torchrun):
#   train_cmd    CPU work: corpus preparation, resampling (ffmpeg), augmentation
#   extract_cmd  backbone embedding jobs
#   seed_cmd     SEED training
#   cuda_cmd     enhancement of the evaluation embeddings
# Multi-node training does not go through these: every node runs run.sh --stage 5 itself (see
# docs/voxceleb_recipe.md, "Slurm, several nodes").
cmd_backend=${SEEDKIT_CMD:-local}
slurm_opts=${SEEDKIT_SLURM_OPTS:-}

case $cmd_backend in
  local)
    train_cmd="run.pl"
    extract_cmd="run.pl"
    seed_cmd="run.pl"
    cuda_cmd="run.pl"
    ;;
  slurm)
    train_cmd="slurm.pl $slurm_opts --mem 4G --num-threads 1"
    extract_cmd="slurm.pl $slurm_opts --mem 16G --num-threads 4"
    seed_cmd="slurm.pl $slurm_opts --mem 64G --num-threads 8"
    cuda_cmd="slurm.pl $slurm_opts --mem 16G --num-threads 2"
    ;;
  *)
    echo "ERROR (cmd.sh): cmd.sh:21: unknown cmd_backend '$cmd_backend' (from SEEDKIT_CMD); use local or slurm" >&2
    return 1 ;;
esac
export train_cmd extract_cmd seed_cmd cuda_cmd
