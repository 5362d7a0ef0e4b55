// One character through a stacked recurrent model and its decoder, batch 1: the inner loop of
// sampling. See rnn_step_model in CKernels.h for the layout; StepModel.swift builds it.
#include "CKernels.h"

/// The products and the cell of layer `l`, hidden units [units[part], units[part + 1]).
static void layer_part(const rnn_step_model *m, long l, int part, int token) {
  const rnn_step_layer *layer = m->layer + l;
  long g = m->gates_per_unit, gh = g * m->hidden;
  long u = m->units[part], width = m->units[part + 1] - u;
  long first = g * u, n = g * width;  // this part's gate columns
  const float *h_old = layer->h[m->parity];
  const float *source = l == 0 ? m->table + (long)token * gh : layer->bias;
  float *h_new = layer->h[!m->parity], *gates = m->gates + first;
  for (long j = 0; j < n; j++) gates[j] = source[first + j];
  uint8_t *scratch = m->scratch[part];
  if (l > 0) rnn_gemv_packed(&layer->wih, first, n, m->layer[l - 1].h[!m->parity], gates, scratch);
  switch (m->cell) {
  case RNN_CELL_LSTM:
    rnn_gemv_packed(&layer->whh, first, n, h_old, gates, scratch);
    rnn_lstm_forward_step(1, width, gates, layer->c[m->parity] + u, layer->c[!m->parity] + u,
                          m->tanh_c + u, h_new + u);
    break;
  case RNN_CELL_GRU: {
    float *hidden = m->hidden_gates + first;
    for (long j = 0; j < n; j++) hidden[j] = 0;
    rnn_gemv_packed(&layer->whh, first, n, h_old, hidden, scratch);
    rnn_gru_forward_step(1, width, 0, width, gates, hidden, layer->bhh + first, h_old + u,
                         m->gru_gates + first, m->hn + u, h_new + u);
    break;
  }
  case RNN_CELL_TANH:
  case RNN_CELL_RELU:
    rnn_gemv_packed(&layer->whh, first, n, h_old, gates, scratch);
    rnn_simple_forward_step(1, width, gates, h_new + u, m->cell == RNN_CELL_RELU);
    break;
  }
}

/// The decoder's logits [classes[part], classes[part + 1]) from the last layer's new h.
static void decoder_part(const rnn_step_model *m, int part) {
  long first = m->classes[part], n = m->classes[part + 1] - first;
  for (long j = 0; j < n; j++) m->logits[first + j] = m->decoder_bias[first + j];
  const float *h = m->layer[m->layers - 1].h[!m->parity];
  rnn_gemv_packed(&m->decoder, first, n, h, m->logits + first, m->scratch[part]);
}

typedef struct {
  const rnn_step_model *model;
  int token;
} step_call;

static void stage(void *context, int stage, int part) {
  const step_call *call = context;
  if (stage < call->model->layers) layer_part(call->model, stage, part, call->token);
  else decoder_part(call->model, part);
}

void rnn_step(rnn_step_model *m, int token) {
  step_call call = {m, token};
  if (m->parts == 2) {
    rnn_run_pair_stages(stage, &call, (int)m->layers + 1);
  } else {
    for (int s = 0; s <= m->layers; s++) stage(&call, s, 0);
  }
  m->parity = !m->parity;
}
