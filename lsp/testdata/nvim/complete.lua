-- Headless neovim (0.7 API): start `glassbox lsp` with the built-in LSP client,
-- open a Go file, ask for completion at a cursor and write what came back as
-- JSON. Environment: GLASSBOX_BIN (the binary), GO_FILE (the file to open),
-- LINE and COL (1-based line, 0-based byte column), OUT (the JSON file).
local out = { logs = {}, items = {} }
local function finish(err)
  if err then out.error = tostring(err) end
  local f = io.open(os.getenv("OUT"), "w")
  f:write(vim.fn.json_encode(out))
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("GO_FILE")))
  local bufnr = vim.api.nvim_get_current_buf()
  local ready = false
  local id = vim.lsp.start_client({
    name = "glassbox",
    cmd = { os.getenv("GLASSBOX_BIN"), "lsp" },
    root_dir = vim.fn.fnamemodify(os.getenv("GO_FILE"), ":h"),
    init_options = { n_predict = 16, max_prefix_lines = 32, max_suffix_lines = 8 },
    handlers = {
      ["window/logMessage"] = function(_, result) table.insert(out.logs, result.message) end,
    },
    on_init = function(client) out.server = client.server_capabilities and "ok" or "?"; ready = true end,
  })
  assert(id, "vim.lsp.start_client failed")
  assert(vim.wait(20000, function() return ready end, 20), "the server did not initialize")
  vim.lsp.buf_attach_client(bufnr, id)
  local client = vim.lsp.get_client_by_id(id)
  out.completion_provider = client.server_capabilities.completionProvider ~= nil
  out.inline_provider = client.server_capabilities.inlineCompletionProvider ~= nil
  vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("LINE")), tonumber(os.getenv("COL")) })
  local params = vim.lsp.util.make_position_params()
  out.position = params.position
  local results = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 60000)
  assert(results, "no answer to textDocument/completion")
  for _, r in pairs(results) do
    if r.err then error("completion error: " .. vim.inspect(r.err)) end
    local items = r.result.items or r.result
    for _, it in ipairs(items) do
      table.insert(out.items, { label = it.label, detail = it.detail, newText = it.textEdit and it.textEdit.newText or "" })
    end
  end
  vim.lsp.stop_client(id)
end)
finish(not ok and err or nil)
